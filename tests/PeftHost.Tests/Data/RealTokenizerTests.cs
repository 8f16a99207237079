using PeftHost.Core.Data;
using PeftHost.Core.Evaluation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Data;

public class RealTokenizerTests
{
    [Fact]
    public void Stories260k_tokenizer_drives_the_pipeline_and_the_classifier_on_bundled_spamassassin()
    {
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k).AsTokenEncoder();
        var shape = new ClassificationShape(192, new PromptTemplate("Subject: {subject}\n{body}\nAnswer:"))
        {
            LabelWords = new Dictionary<string, string> { ["spam"] = "spam", ["ham"] = "ham" },
            FitField = "body",
        };
        var source = RecordSource.Open(Path.Combine(TestPaths.RepoRoot, "data", "spamassassin", SpamAssassinImporter.DataFileName))
            .WhereField("group", "spam-2", "easy-ham-2")
            .Where(r => r.Require("id").EndsWith("00", StringComparison.Ordinal), "id *00"); // a spread of both groups
        var records = source.Read().ToList();
        var examples = shape.Examples(records, tokenizer);
        var tokenized = examples.Select(e => shape.Tokenize(e, tokenizer)).ToList();
        Assert.All(tokenized, t =>
        {
            Assert.True(t.Length <= 192);
            Assert.Equal(tokenizer.BosTokenId, t.InputIds[0]);
            string word = tokenizer.Decode(t.Labels.Where(l => l >= 0)).Trim();
            Assert.Contains(word, new[] { "spam", "ham" });
        });

        using var model = ModelLoader.Load(TestPaths.Stories260k);
        var report = new ClassificationEvaluator(examples, shape, tokenizer, ["spam", "ham"], "spam").Run(model);
        Assert.Equal(examples.Count, report.Matrix.Total);
        Assert.InRange(report.Matrix.Accuracy, 0, 1);

        var cache = new TokenizationCache();
        var first = TokenizedDataset.Load(source, shape, tokenizer, cache);
        var second = TokenizedDataset.Load(source, shape, ((TextTokenizerEncoder)tokenizer).Tokenizer.AsTokenEncoder(), cache);
        Assert.Equal((1, 1), (cache.Misses, cache.Hits)); // a second adapter over the same tokenizer hits the cache
        Assert.Same(first[0], second[0]);
        Assert.Equal(records.Count, first.Count);
    }
}
