using PeftHost.Core.Data;

namespace PeftHost.Tests.Data;

public class ShapeTests
{
    private static readonly ByteTokenizer Tok = new();

    private static DataRecord Record(params (string Key, string Value)[] fields) =>
        new(fields.ToDictionary(f => f.Key, f => (string?)f.Value), "mem.jsonl", 1);

    [Fact]
    public void Packed_text_is_cut_into_full_blocks_with_bos_and_eos_between_documents()
    {
        var records = new[] { Record(("text", "abcdef")), Record(("text", "ghijklmnop")) };
        var blocks = new CausalTextShape(5).Tokenize(records, Tok);
        // stream: BOS abcdef EOS BOS ghijklmnop EOS = 8 + 12 = 20 tokens → 4 blocks of 5
        Assert.Equal(4, blocks.Count);
        Assert.All(blocks, b => Assert.Equal(5, b.Length));
        var stream = blocks.SelectMany(b => b.InputIds).ToArray();
        Assert.Equal(ByteTokenizer.Bos, stream[0]);
        Assert.Equal(ByteTokenizer.Eos, stream[7]);
        Assert.Equal(ByteTokenizer.Bos, stream[8]);
        Assert.All(blocks, b => Assert.Equal(b.InputIds, b.Labels));

        var dropped = new CausalTextShape(6).Tokenize(records, Tok); // 20 tokens → 3 blocks, 2 dropped
        Assert.Equal(3, dropped.Count);
    }

    [Fact]
    public void Truncate_and_pad_keeps_one_sequence_per_document()
    {
        var records = new[] { Record(("text", "abcdefghij")), Record(("text", "xy")) };
        var seqs = new CausalTextShape(6, CausalLayout.TruncateAndPad).Tokenize(records, Tok);
        Assert.Equal([6, 4], seqs.Select(s => s.Length));
        Assert.Equal(ByteTokenizer.Eos, seqs[1].InputIds[^1]);
    }

    [Fact]
    public void Instruction_prompt_is_masked_and_response_plus_eos_supervised()
    {
        var shape = new InstructionShape(512, InstructionTemplate.Alpaca) { Fields = FieldMapping.Alpaca };
        var record = Record(("instruction", "Say hi"), ("input", ""), ("output", "Hi!"));
        var e = shape.Tokenize([record], Tok).Single();
        string expectedPrompt = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi\n\n### Response:\n";
        Assert.Equal(expectedPrompt + "Hi!", Tok.Decode(e.InputIds));
        int promptTokens = Tok.Encode(expectedPrompt, true).Count;
        Assert.All(e.Labels.Take(promptTokens), l => Assert.Equal(TokenizedExample.IgnoreIndex, l));
        Assert.Equal(e.InputIds.Skip(promptTokens), e.Labels.Skip(promptTokens));
        Assert.Equal(ByteTokenizer.Eos, e.Labels[^1]);
        Assert.Equal(4, e.PredictedTokens); // "Hi!" + EOS

        var withInput = shape.Tokenize([Record(("instruction", "Translate"), ("input", "chat"), ("output", "cat"))], Tok).Single();
        Assert.Contains("### Input:\nchat\n\n### Response:\ncat", Tok.Decode(withInput.InputIds));
    }

    [Fact]
    public void Long_instruction_input_is_shortened_so_the_response_survives()
    {
        var shape = new InstructionShape(64, InstructionTemplate.Chat);
        var record = Record(("prompt", "Summarise"), ("input", new string('x', 500)), ("response", "short"));
        var e = shape.Tokenize([record], Tok).Single();
        Assert.True(e.Length <= 64);
        Assert.Equal("short", Tok.Decode(e.Labels.Where(l => l >= 0)));
    }

    [Fact]
    public void Classification_supervises_only_the_label_word()
    {
        var shape = new ClassificationShape(64, new PromptTemplate("Subject: {subject}\n{body}\nAnswer:"))
        {
            LabelWords = new Dictionary<string, string> { ["spam"] = "spam", ["ham"] = "ham" },
            FitField = "body",
        };
        var record = Record(("subject", "Win money"), ("body", new string('b', 300)), ("label", "spam"));
        var e = shape.Tokenize([record], Tok).Single();
        Assert.True(e.Length <= 64);
        Assert.Equal(" spam", Tok.Decode(e.Labels.Where(l => l >= 0)));
        Assert.Equal(5, e.PredictedTokens);
        Assert.EndsWith("\nAnswer: spam", Tok.Decode(e.InputIds));
        Assert.StartsWith("Subject: Win money\nbbb", Tok.Decode(e.InputIds));

        var longSubject = Record(("subject", new string('s', 200)), ("body", "short body"), ("label", "ham"));
        var shortened = shape.Tokenize([longSubject], Tok).Single();
        Assert.True(shortened.Length <= 64);
        Assert.EndsWith("sss\n\nAnswer: ham", Tok.Decode(shortened.InputIds)); // body emptied, then the subject cut

        var unknown = Record(("subject", "x"), ("body", "y"), ("label", "eggs"));
        var error = Assert.Throws<DataFormatException>(() => shape.Tokenize([unknown], Tok));
        Assert.Contains("mem.jsonl:1: label 'eggs'", error.Message);
    }

    [Fact]
    public void Prompt_template_fills_fields_and_keeps_escaped_braces()
    {
        var t = new PromptTemplate("{{literal}} {a}-{b}");
        Assert.Equal(["a", "b"], t.Fields);
        Assert.Equal("{literal} 1-2", t.Format(f => f == "a" ? "1" : "2"));
        Assert.Throws<FormatException>(() => new PromptTemplate("{open"));
    }

    [Fact]
    public void Text_fitter_finds_the_longest_prefix_within_budget()
    {
        string fitted = TextFitter.Fit("abcdefghij", s => s.Length * 2, 9)!;
        Assert.Equal("abcd", fitted);
        // Against brute force, for token counts that are not proportional to length.
        var text = string.Concat(Enumerable.Range(0, 300).Select(i => i % 7 == 0 ? "xyz " : "a"));
        int Count(string s) => 3 + s.Split(' ').Sum(w => (w.Length + 2) / 3);
        for (int budget = 4; budget < 120; budget += 7)
        {
            int best = Enumerable.Range(0, text.Length + 1).Last(n => Count(text[..n]) <= budget);
            Assert.Equal(text[..best], TextFitter.Fit(text, Count, budget));
        }
        Assert.Null(TextFitter.Fit("abc", s => s.Length + 10, 5));
    }
}
