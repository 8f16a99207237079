using PeftHost.Tests.Support;
using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using PeftHost.Core.Chat;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;

namespace PeftHost.Tests.Chat;

/// <summary><c>peft chat</c>: a conversation read line by line from standard input, answered with its history.</summary>
public sealed class ChatCommandTests : IDisposable
{
    private readonly ChatModelFolder _model = new();

    public void Dispose() => _model.Dispose();

    private static (int Code, string Out, string Err) Chat(string input, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = PeftCli.Run(["chat", .. args], output, error, new StringReader(input));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The replies a conversation gets when each turn is answered with the whole history before it.</summary>
    private List<string> ExpectedReplies(string? system, IEnumerable<string> userTurns, bool keepHistory)
    {
        using var model = ModelLoader.Load(_model.Path);
        var tokenizer = TokenizerLoader.Load(_model.Path);
        var generator = new ChatGenerator(model, tokenizer, ChatTemplate.FromFolder(_model.Path)!, ChatStopTokens.For(_model.Path, tokenizer, model.Config.EosTokenIds));
        var options = new GenerationOptions { MaxNewTokens = 16, Temperature = 0 };
        var history = new JsonArray();
        var replies = new List<string>();
        foreach (var turn in userTurns)
        {
            if (!keepHistory) history.Clear();
            if (system is not null && history.Count == 0) history.Add(new JsonObject { ["role"] = "system", ["content"] = system });
            history.Add(new JsonObject { ["role"] = "user", ["content"] = turn });
            var reply = generator.Reply(history, options);
            history.Add(new JsonObject { ["role"] = "assistant", ["content"] = reply });
            replies.Add(reply);
        }
        return replies;
    }

    [Fact]
    public void Each_line_is_a_user_turn_answered_with_the_conversation_so_far()
    {
        string[] turns = ["Tell me about a dog.", "What did the dog do?", "Was it happy?"];
        var (code, output, error) = Chat(string.Join("\n", turns) + "\n", "--model", _model.Path, "--system", "You tell stories.", "--temperature", "0", "-n", "16");
        Assert.True(code == 0, error);
        var expected = ExpectedReplies("You tell stories.", turns, keepHistory: true);
        Assert.Equal(string.Concat(expected.Select(r => r + Environment.NewLine)), output);
        // The history matters: answered turn by turn without it, the later replies differ.
        Assert.NotEqual(expected, ExpectedReplies("You tell stories.", turns, keepHistory: false));
        Assert.Contains("chat_template.jinja", error);
    }

    [Fact]
    public void Reset_forgets_the_history_and_exit_ends_the_conversation()
    {
        var (code, output, error) = Chat("Tell me about a dog.\n/reset\nWas it happy?\n/exit\nnot read\n", "--model", _model.Path, "--temperature", "0", "-n", "16");
        Assert.True(code == 0, error);
        var first = ExpectedReplies(null, ["Tell me about a dog."], keepHistory: true);
        var afterReset = ExpectedReplies(null, ["Was it happy?"], keepHistory: true);
        Assert.Equal(first[0] + Environment.NewLine + afterReset[0] + Environment.NewLine, output);
    }

    [Fact]
    public void A_template_error_drops_the_turn_says_where_and_fails_the_run()
    {
        File.WriteAllText(Path.Combine(_model.Parent, "strict.jinja"),
            "{% for m in messages %}\n{% if m.content | length > 10 %}{{ raise_exception('turn too long') }}{% endif %}{{ m.content }}\n{% endfor %}");
        var (code, output, error) = Chat("this turn is far too long\nshort\n", "--model", _model.Path, "--template", Path.Combine(_model.Parent, "strict.jinja"), "--temperature", "0", "-n", "4");
        Assert.Equal(1, code);
        Assert.Contains("strict.jinja: line 2: turn too long", error);
        Assert.Single(output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)); // the second turn was still answered
    }

    [Fact]
    public void A_model_without_a_template_is_refused_before_loading()
    {
        using var plain = new ChatModelFolder(template: null);
        var (code, output, error) = Chat("hi\n", "--model", plain.Path);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains("has no chat template", error);
        Assert.Contains("--template FILE", error);
    }

    [Fact]
    public void Chat_is_listed_in_help()
    {
        var output = new StringWriter();
        PeftCli.Run(["chat", "--help"], output, new StringWriter());
        Assert.Contains("--template", output.ToString());
        Assert.Contains("--system", output.ToString());
        Assert.Contains("/reset", output.ToString());
    }
}
