using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Parquet.Serialization;
using PeftHost.Tests.Recipes;

namespace PeftHost.Tests.Chat;

/// <summary>loadDataset reads conversations (OpenAI messages, ShareGPT, Alpaca) from JSONL and Parquet, and names a malformed row.</summary>
public sealed class ConversationDatasetTests : IDisposable
{
    private readonly RecipeHarness _h = new();
    private readonly ChatModelFolder _model;

    public ConversationDatasetTests() => _model = new ChatModelFolder(_h.Folder);

    public void Dispose()
    {
        _h.Dispose();
        _model.Dispose();
    }

    private string Data(string name, params object[] rows)
    {
        var path = Path.Combine(_h.Folder, name);
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r)));
        return path;
    }

    /// <summary>Loads <paramref name="path"/> as chat data and logs its format, size and held-out loss under the test model.</summary>
    private (int Code, string Out, string Err) Load(string path, string options = "{}") => _h.Run("recipe.js", $$"""
        import { loadModel, loadDataset, evaluate, log } from "peft";
        const data = loadDataset({{JsonSerializer.Serialize(path)}}, {{options}});
        log("FORMAT " + data.format + " " + data.size);
        log("LOSS " + JSON.stringify(evaluate(loadModel({{JsonSerializer.Serialize(_model.Path)}}), data)));
        """);

    private static (double Loss, long Tokens) LossOf(string output)
    {
        var json = JsonDocument.Parse(Regex.Match(output, "^LOSS (.*)$", RegexOptions.Multiline).Groups[1].Value).RootElement;
        return (json.GetProperty("loss").GetDouble(), json.GetProperty("tokens").GetInt64());
    }

    private static object[] Messages(string user, string answer) =>
    [
        new { role = "system", content = "You answer." }, new { role = "user", content = user }, new { role = "assistant", content = answer },
    ];

    [Fact]
    public void The_three_layouts_read_as_the_same_conversations_and_every_row_is_kept()
    {
        var openAi = Data("openai.jsonl",
            new { messages = Messages("Where is the cat?", "The cat is in the box.") },
            new { messages = Messages("What did Tom eat?", "Tom ate a red apple.") });
        var shareGpt = Data("sharegpt.jsonl",
            new { conversations = new object[] { new { from = "system", value = "You answer." }, new { from = "human", value = "Where is the cat?" }, new { from = "gpt", value = "The cat is in the box." } } },
            new { conversations = new object[] { new { from = "system", value = "You answer." }, new { from = "human", value = "What did Tom eat?" }, new { from = "gpt", value = "Tom ate a red apple." } } });
        var alpaca = Data("alpaca.jsonl",
            new { system = "You answer.", instruction = "Where is the cat?", input = "", output = "The cat is in the box." },
            new { system = "You answer.", instruction = "What did Tom eat?", output = "Tom ate a red apple." });

        var a = Load(openAi);
        var b = Load(shareGpt);
        var c = Load(alpaca, """{ format: "chat" }""");
        foreach (var run in new[] { a, b, c })
        {
            Assert.True(run.Code == 0, run.Err);
            Assert.Contains("FORMAT chat 2", run.Out);
        }
        Assert.Equal(LossOf(a.Out), LossOf(b.Out));
        Assert.Equal(LossOf(a.Out), LossOf(c.Out));
    }

    [Fact]
    public async Task Parquet_conversations_read_as_their_JSONL_twins()
    {
        var rows = new[]
        {
            new ParquetConversation { Messages = [new() { Role = "user", Content = "Where is the cat?" }, new() { Role = "assistant", Content = "The cat is in the box." }] },
            new ParquetConversation { Messages = [new() { Role = "user", Content = "What did Tom eat?" }, new() { Role = "assistant", Content = "Tom ate a red apple." }] },
        };
        var parquet = Path.Combine(_h.Folder, "chat.parquet");
        await using (var stream = File.Create(parquet)) await ParquetSerializer.SerializeAsync(rows, stream);
        var jsonl = Data("chat.jsonl", rows.Select(r => (object)new { messages = r.Messages.Select(m => new { role = m.Role, content = m.Content }) }).ToArray());

        var fromParquet = Load(parquet);
        var fromJsonl = Load(jsonl);
        Assert.True(fromParquet.Code == 0, fromParquet.Err);
        Assert.Contains("FORMAT chat 2", fromParquet.Out);
        Assert.Equal(LossOf(fromJsonl.Out), LossOf(fromParquet.Out));
    }

    public sealed class ParquetConversation
    {
        [JsonPropertyName("messages")]
        public List<ParquetMessage> Messages { get; set; } = [];
    }

    public sealed class ParquetMessage
    {
        [JsonPropertyName("role")]
        public string Role { get; set; } = "";
        [JsonPropertyName("content")]
        public string Content { get; set; } = "";
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}""", "messages[1] has no \"content\"")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 7}]}""", """messages[1]: "content" is a number, not a string""")]
    [InlineData("""{"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "yes"}]}""", "messages[0]: unknown role 'robot'")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}]}""", "messages has no assistant message")]
    [InlineData("""{"messages": "hello"}""", "field 'messages' is not a JSON list of messages")]
    [InlineData("""{"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "yes"}]}""", "conversations[1]: unknown speaker \"from\": \"bot\"")]
    [InlineData("""{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "text": "yes"}]}""", "conversations[1] has no \"value\"")]
    public void A_malformed_row_fails_at_loadDataset_naming_the_file_line_and_fault(string badRow, string fault)
    {
        bool shareGpt = badRow.Contains("conversations");
        var good = shareGpt
            ? """{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yes"}]}"""
            : """{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yes"}]}""";
        var path = Path.Combine(_h.Folder, "bad.jsonl");
        File.WriteAllLines(path, [good, good, badRow, good]);
        var run = Load(path);
        Assert.Equal(1, run.Code);
        Assert.Contains($"bad.jsonl:3: {fault}", run.Err);
        Assert.DoesNotContain("FORMAT", run.Out);
    }

    [Fact]
    public void Conversations_built_from_fields_shorten_the_fit_field_and_keep_the_answers()
    {
        var path = Data("mail.jsonl",
            new { subject = "Win money", body = string.Concat(Enumerable.Repeat("Buy now and win a big prize. ", 60)), label = "spam" },
            new { subject = "Lunch", body = "See you at noon.", label = "ham" });
        var run = Load(path, """
            { format: "chat", maxLength: 96, fitField: "body", messages: [
                { role: "user", content: "Subject: {subject}\n{body}\nSpam or ham?" },
                { role: "assistant", content: "{label}" },
            ] }
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("FORMAT chat 2", run.Out);
        Assert.True(LossOf(run.Out).Tokens > 0);

        var unfitted = Load(path, """{ format: "chat", maxLength: 96, messages: [{ role: "user", content: "{body}" }, { role: "assistant", content: "{label}" }] }""");
        Assert.Equal(1, unfitted.Code);
        Assert.Contains("mail.jsonl:1: no assistant token is within the first 96 tokens", unfitted.Err);
        Assert.Contains("name a fitField", unfitted.Err);
    }
}
