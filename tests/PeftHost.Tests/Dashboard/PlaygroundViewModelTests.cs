using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>The Playground: streamed pieces accumulate per answer; sending validates its numbers; the real model streams both answers.</summary>
public sealed class PlaygroundViewModelTests
{
    private sealed class RecordingCommands : IPlaygroundCommands
    {
        public List<(string Prompt, GenerationOptions Options)> Calls { get; } = [];
        public CommandResult Generate(string prompt, GenerationOptions options)
        {
            Calls.Add((prompt, options));
            return CommandResult.Ok("generating…");
        }

        public CommandResult Chat(ChatRequest request, GenerationOptions options) => throw new InvalidOperationException("not in chat mode");
    }

    [Fact]
    public void Streamed_text_accumulates_per_answer()
    {
        var vm = new PlaygroundViewModel(new RecordingCommands());
        vm.Apply(new GenerationStartedEvent(7, "Once", "default"));
        foreach (var piece in new[] { ",", " there", " was" }) vm.Apply(new GenerationTextEvent(7, GenerationLane.Adapter, piece));
        vm.Apply(new GenerationTextEvent(7, GenerationLane.Base, " upon"));
        vm.Apply(new GenerationTextEvent(6, GenerationLane.Base, " stale")); // an older request's leftovers
        Assert.True(vm.IsGenerating);
        Assert.Equal(", there was", vm.AdapterText);
        Assert.Equal(" upon", vm.BaseText);
        Assert.Equal("with adapter 'default'", vm.AdapterTitle);

        vm.Apply(new GenerationFinishedEvent(7, 4, TimeSpan.FromSeconds(2), null));
        Assert.False(vm.IsGenerating);
        Assert.Equal("done: 4 tokens in 2.0 s (2 tok/s)", vm.Status);

        vm.Apply(new GenerationStartedEvent(8, "Next", null));
        Assert.Equal("", vm.AdapterText);
        Assert.Equal("with adapter (none active)", vm.AdapterTitle);
        vm.Apply(new GenerationFinishedEvent(8, 0, TimeSpan.Zero, null));

        // Between requests the title follows the model's active adapter.
        var adapter = new AdapterSnapshot("sparky", "lora", "LORA", IsActive: true, IsMerged: false, CanMerge: true, 896);
        Assert.True(vm.Apply(new ModelChangedEvent(new ModelSnapshot("/m", "tiny", 896, 10_000, 40_000, false, [adapter]))));
        Assert.Equal("with adapter 'sparky'", vm.AdapterTitle);
        vm.Apply(new ModelChangedEvent(new ModelSnapshot("/m", "tiny", 896, 10_000, 40_000, AdaptersDisabled: true, [adapter])));
        Assert.Equal("with adapter (none active)", vm.AdapterTitle);
    }

    [Fact]
    public void Send_passes_the_prompt_and_settings_and_refuses_bad_numbers()
    {
        var commands = new RecordingCommands();
        var vm = new PlaygroundViewModel(commands) { Prompt = "The little dog", MaxNewTokens = "12", Temperature = "0" };
        Assert.True(vm.Send().Started);
        var (prompt, options) = Assert.Single(commands.Calls);
        Assert.Equal("The little dog", prompt);
        Assert.Equal(12, options.MaxNewTokens);
        Assert.Equal(0, options.Temperature);

        vm.MaxNewTokens = "lots";
        Assert.False(vm.Send().Started);
        Assert.Equal("max tokens: a whole number from 1 to 4096", vm.Status);
        vm.MaxNewTokens = "8";
        vm.Temperature = "-1";
        Assert.False(vm.Send().Started);
        Assert.Single(commands.Calls);
    }

    [Fact]
    public void The_bundled_model_streams_the_adapter_and_base_answers_token_by_token()
    {
        using var h = new HeadlessModel();
        h.Model.Load(TestPaths.Stories260k);
        h.Playground.Prompt = "";
        h.Playground.MaxNewTokens = "24";
        Assert.True(h.Playground.Send().Started);
        h.Settle();

        Assert.Null(h.Playground.Adapter); // no adapter: only the base answers
        Assert.Equal("", h.Playground.AdapterText);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", h.Playground.BaseText.TrimStart());
        int pieces = h.Seen.Count(e => e is GenerationTextEvent);
        Assert.True(pieces >= 10, $"expected streaming, got {pieces} pieces");
        Assert.StartsWith("done: 24 tokens", h.Playground.Status);
    }

    [Fact]
    public void With_an_adapter_both_answers_stream_and_a_zero_adapter_matches_the_base()
    {
        using var h = new HeadlessModel();
        h.Model.Attach(ModelLoader.Load(TestPaths.Stories260k), TokenizerLoader.Load(TestPaths.Stories260k), TestPaths.Stories260k);
        // A fresh LoRA adapter has B = 0: its answer must equal the base model's, greedily.
        h.Model.Peft!.AddAdapter("lora", new System.Text.Json.Nodes.JsonObject { ["r"] = 4, ["targetModules"] = new System.Text.Json.Nodes.JsonArray("q_proj", "v_proj") });
        h.Playground.Prompt = "Once upon a time";
        h.Playground.MaxNewTokens = "16";
        h.Playground.Send();
        h.Settle();
        Assert.Equal("default", h.Playground.Adapter);
        Assert.NotEqual("", h.Playground.AdapterText);
        Assert.Equal(h.Playground.BaseText, h.Playground.AdapterText);
    }
}
