using System.Globalization;
using System.Text;
using PeftHost.Cli.Dashboard.Session;
using PeftHost.Core.Generation;
using PeftHost.Core.Telemetry;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>What the Playground can ask for.</summary>
public interface IPlaygroundCommands
{
    /// <summary>Starts answering <paramref name="prompt"/> (with the adapter, then the base model), streaming the answers as events.</summary>
    CommandResult Generate(string prompt, GenerationOptions options);

    /// <summary>Starts answering a chat turn (with the adapter, then the base model), each rendered with the chat template.</summary>
    CommandResult Chat(ChatRequest request, GenerationOptions options);
}

/// <summary>How the Playground sends the prompt.</summary>
public enum PlaygroundMode
{
    /// <summary>The prompt is raw text the model continues.</summary>
    Completion,

    /// <summary>The prompt is a user message in a multi-turn conversation rendered with the model's chat template.</summary>
    Chat,
}

/// <summary>
/// The Playground: a prompt, and two answers streamed side by side — the model with its active
/// adapter, and the base model alone — accumulated from <see cref="GenerationTextEvent"/>s. In chat
/// mode the prompt is a user turn: the conversation (system prompt, earlier turns, each side's own
/// replies) is kept here and sent whole with every turn.
/// </summary>
public sealed class PlaygroundViewModel(IPlaygroundCommands commands) : IEventSink
{
    private const string UserMark = "› ";
    private const string DefaultPrompt = "Once upon a time";
    private readonly StringBuilder _adapterText = new();
    private readonly StringBuilder _baseText = new();
    private readonly List<ChatExchange> _history = [];
    private int _requestId = -1;
    private string? _pendingMessage;
    private bool _pendingIsChat;

    /// <summary>The prompt to send (in chat mode: the next user message).</summary>
    public string Prompt { get; set; } = DefaultPrompt;

    /// <summary>Completion or chat.</summary>
    public PlaygroundMode Mode { get; private set; } = PlaygroundMode.Completion;

    /// <summary>The chat's system prompt ("" for none).</summary>
    public string SystemPrompt { get; set; } = "";

    /// <summary>Nucleus sampling's top-p (text; parsed when sending; used when the temperature is above 0).</summary>
    public string TopP { get; set; } = "0.9";

    /// <summary>The chat so far, oldest turn first.</summary>
    public IReadOnlyList<ChatExchange> History => _history;

    /// <summary>Where the model's chat template comes from, or null when it has none (then chat mode is refused).</summary>
    public string? ChatTemplate { get; private set; }

    /// <summary>Why chat mode is unavailable (from the model), or null.</summary>
    public string? NoChatTemplate { get; private set; } = "no model loaded";

    /// <summary>Tokens per answer (text; parsed when sending).</summary>
    public string MaxNewTokens { get; set; } = "48";

    /// <summary>Sampling temperature (text; 0 is greedy).</summary>
    public string Temperature { get; set; } = "0";

    /// <summary>The adapter answer so far.</summary>
    public string AdapterText => _adapterText.ToString();

    /// <summary>The base model's answer so far.</summary>
    public string BaseText => _baseText.ToString();

    /// <summary>The adapter the answer uses (the model's active adapter between requests), or null: then only the base answers.</summary>
    public string? Adapter { get; private set; }

    /// <summary>True while answers stream in.</summary>
    public bool IsGenerating { get; private set; }

    /// <summary>A status line: what is generating, or how the last request ended.</summary>
    public string Status { get; private set; } = "type a prompt and press Enter (or Send)";

    /// <summary>The adapter column's title.</summary>
    public string AdapterTitle => Adapter is null ? "with adapter (none active)" : $"with adapter '{Adapter}'";

    /// <inheritdoc />
    public bool Apply(IHostEvent e)
    {
        switch (e)
        {
            case GenerationStartedEvent started:
                _requestId = started.RequestId;
                _adapterText.Clear();
                _baseText.Clear();
                Adapter = started.Adapter;
                IsGenerating = true;
                Status = "generating…";
                return true;
            case GenerationTextEvent text when text.RequestId == _requestId:
                (text.Lane == GenerationLane.Adapter ? _adapterText : _baseText).Append(text.Delta);
                return true;
            case ModelChangedEvent changed:
                return ApplyModel(changed.Snapshot);
            case GenerationFinishedEvent done when done.RequestId == _requestId:
                IsGenerating = false;
                double rate = done.Elapsed.TotalSeconds > 0 ? done.Tokens / done.Elapsed.TotalSeconds : 0;
                Status = done.Error is null
                    ? string.Create(CultureInfo.InvariantCulture, $"done: {done.Tokens} tokens in {done.Elapsed.TotalSeconds:0.0} s ({rate:0} tok/s)")
                    : $"stopped: {done.Error}";
                if (_pendingIsChat && _pendingMessage is { } message)
                {
                    // A finished turn joins the conversation; a failed or stopped one is dropped (as in peft chat).
                    if (done.Error is null)
                    {
                        _history.Add(new ChatExchange(message, Adapter is null ? null : AdapterText, BaseText));
                        Status = $"turn {_history.Count} {Status}";
                    }
                    _adapterText.Clear();
                    _baseText.Clear();
                }
                _pendingMessage = null;
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The adapter column's text: in completion mode the prompt and its continuation; in chat mode the
    /// conversation as this side had it (user turns marked "› ") with the streaming reply.
    /// </summary>
    public string AdapterPane => Pane(GenerationLane.Adapter);

    /// <summary>The base column's text, as <see cref="AdapterPane"/>.</summary>
    public string BasePane => Pane(GenerationLane.Base);

    /// <summary>Sends the prompt with the current settings; refused when the numbers do not parse or a job runs.</summary>
    public CommandResult Send()
    {
        if (!int.TryParse(MaxNewTokens.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int max) || max is < 1 or > 4096)
            return Refuse("max tokens: a whole number from 1 to 4096");
        if (!double.TryParse(Temperature.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double temperature) || temperature < 0 || !double.IsFinite(temperature))
            return Refuse("temperature: a number ≥ 0 (0 = greedy)");
        if (!double.TryParse(TopP.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double topP) || topP is <= 0 or > 1)
            return Refuse("top-p: a number above 0 and at most 1");
        var options = new GenerationOptions { MaxNewTokens = max, Temperature = temperature, TopP = temperature > 0 ? topP : 1.0 };
        if (Mode == PlaygroundMode.Chat && Prompt.Trim().Length == 0) return Refuse("chat: type a message first");
        var result = Mode == PlaygroundMode.Chat
            ? commands.Chat(new ChatRequest(SystemPrompt.Trim().Length == 0 ? null : SystemPrompt, _history.ToList(), Prompt), options)
            : commands.Generate(Prompt, options);
        if (!result.Started)
        {
            Status = result.Message;
            return result;
        }
        _pendingMessage = Prompt;
        _pendingIsChat = Mode == PlaygroundMode.Chat;
        return result;
    }

    /// <summary>
    /// Switches between completion and chat. Chat needs a chat template: without one the Playground says
    /// why and stays in completion mode. Refused while answers stream.
    /// </summary>
    public CommandResult ToggleMode()
    {
        if (IsGenerating) return Refuse("wait for the answers to finish (Ctrl-C stops them)");
        if (Mode == PlaygroundMode.Chat)
        {
            Mode = PlaygroundMode.Completion;
            Status = "completion mode: the prompt is text the model continues";
            return CommandResult.Ok(Status);
        }
        if (ChatTemplate is null) return Refuse($"{NoChatTemplate}: staying in completion mode (an adapter saved with a template brings one)");
        Mode = PlaygroundMode.Chat;
        _adapterText.Clear();
        _baseText.Clear();
        if (Prompt == DefaultPrompt) Prompt = "";
        Status = $"chat mode ({ChatTemplate}): type a message and press Enter";
        return CommandResult.Ok(Status);
    }

    /// <summary>Forgets the conversation (the system prompt stays); refused while answers stream.</summary>
    public CommandResult NewConversation()
    {
        if (IsGenerating) return Refuse("wait for the answers to finish (Ctrl-C stops them)");
        _history.Clear();
        _adapterText.Clear();
        _baseText.Clear();
        Status = Mode == PlaygroundMode.Chat ? "new conversation: type a message and press Enter" : "cleared";
        return CommandResult.Ok(Status);
    }

    private bool ApplyModel(ModelSnapshot snapshot)
    {
        bool changed = ChatTemplate != snapshot.ChatTemplate || NoChatTemplate != snapshot.NoChatTemplate;
        ChatTemplate = snapshot.ChatTemplate;
        NoChatTemplate = snapshot.NoChatTemplate;
        if (Mode == PlaygroundMode.Chat && ChatTemplate is null && !IsGenerating)
        {
            Mode = PlaygroundMode.Completion;
            Status = $"{NoChatTemplate}: back in completion mode";
            changed = true;
        }
        string? active = snapshot.AdaptersDisabled ? null : snapshot.Active?.Name;
        if (IsGenerating || active == Adapter) return changed;
        Adapter = active;
        return true;
    }

    private string Pane(GenerationLane lane)
    {
        var answer = lane == GenerationLane.Adapter ? _adapterText : _baseText;
        bool adapterAbsent = lane == GenerationLane.Adapter && Adapter is null && !IsGenerating;
        if (Mode == PlaygroundMode.Completion || !_pendingIsChat && _history.Count == 0)
        {
            if (adapterAbsent && _baseText.Length > 0) return "(no active adapter)";
            return IsGenerating || _adapterText.Length + _baseText.Length > 0 ? Prompt + answer : "";
        }
        var text = new StringBuilder();
        if (SystemPrompt.Trim().Length > 0) text.Append("system: ").Append(SystemPrompt.Trim()).Append("\n\n");
        foreach (var turn in _history)
        {
            string reply = lane == GenerationLane.Adapter ? turn.AdapterReply ?? "(no active adapter)" : turn.BaseReply;
            text.Append(UserMark).Append(turn.User).Append('\n').Append(reply.Trim()).Append("\n\n");
        }
        if (_pendingMessage is { } message && _pendingIsChat)
            text.Append(UserMark).Append(message).Append('\n').Append(answer.ToString().TrimStart());
        return text.ToString();
    }

    private CommandResult Refuse(string message)
    {
        Status = message;
        return CommandResult.Refused(message);
    }
}
