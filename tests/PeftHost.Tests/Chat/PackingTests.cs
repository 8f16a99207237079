using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftHost.Core.Chat;
using PeftHost.Core.Data;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Recipes;
using static TorchSharp.torch;

namespace PeftHost.Tests.Chat;

/// <summary>Packed conversations: attention stays within each, positions restart, the loss is that of the parts.</summary>
public sealed class PackingTests : IDisposable
{
    private readonly RecipeHarness _h = new();
    private readonly ChatModelFolder _model;

    public PackingTests() => _model = new ChatModelFolder(_h.Folder);

    public void Dispose()
    {
        _h.Dispose();
        _model.Dispose();
    }

    private static readonly string[] Questions = ["Where is the cat?", "What did Tom eat?", "Who baked the cake?", "Why did Lily smile?", "What is red?"];
    private static readonly string[] Answers = ["The cat is in the box.", "Tom ate a red apple.", "Mom baked the cake.", "Lily saw her friend.", "The ball is red."];

    private string Records() => new JsonArray(Questions.Select((q, i) => (JsonNode)new JsonObject
    {
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "user", ["content"] = q },
            new JsonObject { ["role"] = "assistant", ["content"] = Answers[i] }),
    }).ToArray()).ToJsonString();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Packed_loss_equals_the_loss_of_the_conversations_apart(bool responsesOnly)
    {
        var run = _h.RunOk($$"""
            import { loadModel, loadDataset, evaluate, log } from "peft";
            const model = loadModel({{JsonSerializer.Serialize(_model.Path)}});
            const options = { maxLength: 64, trainOnResponsesOnly: {{(responsesOnly ? "true" : "false")}} };
            const apart = evaluate(model, loadDataset({{Records()}}, options), { batchSize: 1 });
            const packed = evaluate(model, loadDataset({{Records()}}, { ...options, packing: true }), { batchSize: 1 });
            log("RESULT " + JSON.stringify({ apart, packed }));
            """);
        var result = JsonDocument.Parse(Regex.Match(run.Out, "^RESULT (.*)$", RegexOptions.Multiline).Groups[1].Value).RootElement;
        var apart = result.GetProperty("apart");
        var packed = result.GetProperty("packed");
        Assert.Equal(apart.GetProperty("tokens").GetInt64(), packed.GetProperty("tokens").GetInt64());
        Assert.Equal(apart.GetProperty("loss").GetDouble(), packed.GetProperty("loss").GetDouble(), 5);
    }

    [Fact]
    public void Packing_joins_conversations_up_to_the_length_and_training_on_packed_rows_runs()
    {
        var tokenizer = TokenizerLoader.Load(_model.Path).AsTokenEncoder();
        var template = ChatTemplate.FromFolder(_model.Path)!;
        var records = Questions.Select((q, i) => new DataRecord(new Dictionary<string, string?>
        {
            ["messages"] = $$"""[{"role":"user","content":"{{q}}"},{"role":"assistant","content":"{{Answers[i]}}"}]""",
        }, "test", i + 1)).ToList();
        var apart = new ConversationShape(64, new OpenAiMessagesReader()) { Template = template }.Tokenize(records, tokenizer);
        var packed = new ConversationShape(64, new OpenAiMessagesReader()) { Template = template, Packing = true }.Tokenize(records, tokenizer);
        Assert.True(packed.Count < apart.Count);
        Assert.All(packed, e => Assert.True(e.Length <= 64));
        Assert.Equal(apart.SelectMany(e => e.InputIds), packed.SelectMany(e => e.InputIds));
        Assert.Equal(apart.Sum(e => e.PredictedTokens), packed.Sum(e => e.PredictedTokens));

        // Logits of a packed row equal those of its parts run alone.
        using var model = ModelLoader.Load(_model.Path);
        model.eval();
        using var noGrad = no_grad();
        var row = packed.First(e => e.Segments is not null);
        using var batch = new BatchCollator(0, CPU).Collate([row]);
        using var packedLogits = model.Forward(batch.InputIds, batch.ModelMask);
        int start = 0;
        foreach (var part in row.Segments!.Distinct())
        {
            int length = row.Segments!.Count(s => s == part);
            using var ids = tensor(row.InputIds[start..(start + length)].Select(i => (long)i).ToArray(), [1, length]);
            using var alone = model.Forward(ids);
            using var slice = packedLogits[.., start..(start + length)];
            Assert.True(allclose(alone, slice, rtol: 1e-4, atol: 1e-5), $"part {part}: packed logits differ from the part's own");
            start += length;
        }
    }
}
