using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Chat;
using PeftHost.Core.Generation;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Dashboard;

/// <summary>
/// The Playground's chat mode (system prompt, sampling settings, multi-turn history rendered with the chat
/// template, new conversation, refused without a template) and its two answers never racing on the shared model.
/// </summary>
public sealed class PlaygroundChatTests
{
    /// <summary>The chat-sft recipe's plain-words template: "Q: …" for the user, "A: …&lt;/s&gt;" for the assistant.</summary>
    internal const string QaTemplate = """
        {%- for m in messages %}
            {%- if m.role == 'system' %}{{ m.content | trim }}
        {% elif m.role == 'user' %}Q: {{ m.content | trim }}
        {% elif m.role == 'assistant' %}A: {{ m.content | trim }}{{ eos_token }}
        {% endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}A:{% endif %}
        """;

    private sealed class RecordingCommands : IPlaygroundCommands
    {
        public List<(ChatRequest Request, GenerationOptions Options)> Chats { get; } = [];
        public int Completions { get; private set; }

        public CommandResult Generate(string prompt, GenerationOptions options)
        {
            Completions++;
            return CommandResult.Ok("generating…");
        }

        public CommandResult Chat(ChatRequest request, GenerationOptions options)
        {
            Chats.Add((request, options));
            return CommandResult.Ok("answering…");
        }
    }

    private static ModelChangedEvent Model(string? template, string? noTemplate) =>
        new(new ModelSnapshot("/models/stories260k", "tiny", 0, 10, 40, false,
            [new AdapterSnapshot("default", "lora", "LORA", IsActive: true, IsMerged: false, CanMerge: true, 96)])
        { ChatTemplate = template, NoChatTemplate = noTemplate });

    /// <summary>Streams one finished (or failed) two-sided answer into <paramref name="vm"/>.</summary>
    private static void Answer(PlaygroundViewModel vm, int id, string adapterReply, string baseReply, string? error = null)
    {
        vm.Apply(new GenerationStartedEvent(id, vm.Prompt, "default"));
        vm.Apply(new GenerationTextEvent(id, GenerationLane.Adapter, adapterReply));
        vm.Apply(new GenerationTextEvent(id, GenerationLane.Base, baseReply));
        vm.Apply(new GenerationFinishedEvent(id, 6, TimeSpan.FromSeconds(1), error));
    }

    [Fact]
    public void Without_a_chat_template_chat_mode_is_refused_with_the_reason_and_completion_mode_stays()
    {
        var commands = new RecordingCommands();
        var vm = new PlaygroundViewModel(commands);
        vm.Apply(Model(null, "stories260k has no chat template"));

        var refused = vm.ToggleMode();
        Assert.False(refused.Started);
        Assert.Equal(PlaygroundMode.Completion, vm.Mode);
        Assert.Equal("stories260k has no chat template: staying in completion mode (an adapter saved with a template brings one)", vm.Status);
        Assert.True(vm.Send().Started);
        Assert.Equal(1, commands.Completions);
        Assert.Empty(commands.Chats);

        // A model change that brings a template allows chat; one that takes it away returns to completion, saying why.
        vm.Apply(Model("/a/chat_template.jinja", null));
        Assert.True(vm.ToggleMode().Started);
        Assert.Equal(PlaygroundMode.Chat, vm.Mode);
        vm.Apply(Model(null, "stories260k has no chat template"));
        Assert.Equal(PlaygroundMode.Completion, vm.Mode);
        Assert.Equal("stories260k has no chat template: back in completion mode", vm.Status);
    }

    [Fact]
    public void Chat_turns_send_the_system_prompt_settings_and_each_sides_own_history_and_new_forgets_it()
    {
        var commands = new RecordingCommands();
        var vm = new PlaygroundViewModel(commands);
        vm.Apply(Model("/a/chat_template.jinja", null));
        Assert.True(vm.ToggleMode().Started);
        Assert.Equal("", vm.Prompt); // the completion sample is not a message
        Assert.Equal("chat mode (/a/chat_template.jinja): type a message and press Enter", vm.Status);
        Assert.False(vm.Send().Started);
        Assert.Equal("chat: type a message first", vm.Status);

        vm.SystemPrompt = "Be brief.";
        vm.Temperature = "0.7";
        vm.TopP = "0.5";
        vm.MaxNewTokens = "20";
        vm.Prompt = "Who is Lily?";
        Assert.True(vm.Send().Started);
        var (first, options) = Assert.Single(commands.Chats);
        Assert.Equal(new ChatRequest("Be brief.", [], "Who is Lily?"), first with { History = [] });
        Assert.Empty(first.History);
        Assert.Equal((20, 0.7, 0.5), (options.MaxNewTokens, options.Temperature, options.TopP));
        Answer(vm, 1, " A girl.", " A dog.");
        Assert.Equal([new ChatExchange("Who is Lily?", " A girl.", " A dog.")], vm.History);
        Assert.Equal("turn 1 done: 6 tokens in 1.0 s (6 tok/s)", vm.Status);
        Assert.Equal("system: Be brief.\n\n› Who is Lily?\nA girl.\n\n", vm.AdapterPane);
        Assert.Equal("system: Be brief.\n\n› Who is Lily?\nA dog.\n\n", vm.BasePane);

        // The second turn carries the first; each side is shown and sent its own earlier reply.
        vm.Prompt = "And Tom?";
        Assert.True(vm.Send().Started);
        var second = commands.Chats[1].Request;
        Assert.Single(second.History);
        Assert.Equal("""[{"role":"system","content":"Be brief."},{"role":"user","content":"Who is Lily?"},{"role":"assistant","content":" A girl."},{"role":"user","content":"And Tom?"}]""",
            second.Messages(GenerationLane.Adapter).ToJsonString());
        Assert.Equal(" A dog.", second.Messages(GenerationLane.Base)[2]!["content"]!.GetValue<string>());
        vm.Apply(new GenerationStartedEvent(2, "And Tom?", "default"));
        vm.Apply(new GenerationTextEvent(2, GenerationLane.Base, " A boy"));
        Assert.EndsWith("› And Tom?\nA boy", vm.BasePane); // streaming, under its message

        // A failed turn is dropped; the conversation goes on from the last good one.
        vm.Apply(new GenerationFinishedEvent(2, 3, TimeSpan.FromSeconds(1), "the prompt is too long"));
        Assert.Single(vm.History);
        Assert.Equal("stopped: the prompt is too long", vm.Status);

        vm.TopP = "1.5";
        Assert.False(vm.Send().Started);
        Assert.Equal("top-p: a number above 0 and at most 1", vm.Status);

        Assert.True(vm.NewConversation().Started);
        Assert.Empty(vm.History);
        Assert.Equal("system: Be brief.\n\n", vm.AdapterPane);
    }

    [Fact]
    public void The_bundled_model_chats_with_the_template_its_adapter_brings_and_each_turn_sees_the_earlier_ones()
    {
        using var dir = new TempDir();
        using var h = new HeadlessModel();
        h.Model.Load(TestPaths.Stories260k);
        h.Settle();
        Assert.Null(h.Playground.ChatTemplate);
        Assert.Equal("stories260k has no chat template", h.Playground.NoChatTemplate);

        // An adapter saved with a template (as a chat fine-tune saves it) brings chat mode.
        RandomizeAdapter(h.Model.Peft!, "trained");
        string adapter = h.Model.Save("trained", dir["adapters"]);
        File.WriteAllText(Path.Combine(adapter, ChatTemplate.TemplateFileName), QaTemplate);
        h.Model.LoadAdapter(adapter, "chatty");
        h.Settle();
        Assert.Equal(Path.Combine(adapter, ChatTemplate.TemplateFileName), h.Playground.ChatTemplate);
        Assert.True(h.Playground.ToggleMode().Started);

        h.Playground.SystemPrompt = "You tell stories.";
        h.Playground.MaxNewTokens = "12";
        foreach (var message in new[] { "Who is Lily?", "What did she see?" })
        {
            h.Playground.Prompt = message;
            Assert.True(h.Playground.Send().Started);
            h.Settle();
            Assert.StartsWith($"turn {h.Playground.History.Count} done: ", h.Playground.Status);
        }
        Assert.Equal(2, h.Playground.History.Count);
        var (first, second) = (h.Playground.History[0], h.Playground.History[1]);
        Assert.NotEqual("", first.BaseReply.Trim());
        Assert.NotNull(first.AdapterReply);

        // The base side's second reply is what the template-rendered two-turn conversation gives the model alone.
        using var reference = ModelLoader.Load(TestPaths.Stories260k);
        var tokenizer = TokenizerLoader.Load(TestPaths.Stories260k);
        var chat = new ChatGenerator(reference, tokenizer, ChatTemplate.FromFolder(adapter)!, ChatStopTokens.For(TestPaths.Stories260k, tokenizer, reference.Config.EosTokenIds));
        var options = new GenerationOptions { MaxNewTokens = 12, Temperature = 0 };
        var conversation = new ChatRequest("You tell stories.", [first], "What did she see?");
        Assert.Equal(chat.Reply(conversation.Messages(GenerationLane.Base), options), second.BaseReply);
        Assert.Equal(chat.Reply(new ChatRequest("You tell stories.", [], "Who is Lily?").Messages(GenerationLane.Base), options), first.BaseReply);
    }

    [Fact]
    public void Answers_requested_at_once_from_several_threads_never_mix_the_adapter_and_base_sides()
    {
        using var h = new HeadlessModel();
        h.Model.Attach(ModelLoader.Load(TestPaths.Stories260k), TokenizerLoader.Load(TestPaths.Stories260k), TestPaths.Stories260k);
        RandomizeAdapter(h.Model.Peft!, "default");
        var texts = new ConcurrentDictionary<(int, GenerationLane), string>();
        var errors = new ConcurrentBag<string>();
        using var _ = h.Events.Subscribe<GenerationTextEvent>(e => texts.AddOrUpdate((e.RequestId, e.Lane), e.Delta, (_, t) => t + e.Delta));
        using var __ = h.Events.Subscribe<GenerationFinishedEvent>(e => { if (e.Error is not null) errors.Add(e.Error); });
        var options = new GenerationOptions { MaxNewTokens = 10, Temperature = 0 };

        // The answers alone, one request at a time.
        h.Model.Generate(0, "Once upon a time", options, CancellationToken.None);
        string adapterAnswer = texts[(0, GenerationLane.Adapter)], baseAnswer = texts[(0, GenerationLane.Base)];
        Assert.NotEqual(baseAnswer, adapterAnswer); // else a leaked adapter switch could not show

        // Many requests at once on the one model, as two clients (or two sides) would send them.
        const int Threads = 4, PerThread = 3;
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                try { h.Model.Generate(1 + t * PerThread + i, "Once upon a time", options, CancellationToken.None); }
                catch (Exception e) { errors.Add(e.Message); }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Empty(errors);
        for (int id = 1; id <= Threads * PerThread; id++)
        {
            Assert.Equal(adapterAnswer, texts[(id, GenerationLane.Adapter)]);
            Assert.Equal(baseAnswer, texts[(id, GenerationLane.Base)]);
        }
    }

    /// <summary>Adds (when missing) and fills LoRA adapter <paramref name="name"/> with weights large enough to change greedy answers.</summary>
    private static void RandomizeAdapter(PeftModel peft, string name)
    {
        if (peft.Adapters.All(a => a.Name != name))
            peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["loraAlpha"] = 8, ["targetModules"] = "all-linear" }, name);
        using var g = new Generator(7);
        using (no_grad())
            foreach (var (key, p) in peft[name].Adapter.NamedParameters().OrderBy(p => p.Key, StringComparer.Ordinal))
                p.copy_(randn(p.shape, generator: g) * (key.Contains("lora_B") ? 0.3 : 0.5));
    }
}
