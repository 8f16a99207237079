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
}

/// <summary>
/// The Playground: a prompt, and two answers streamed side by side — the model with its active
/// adapter, and the base model alone — accumulated from <see cref="GenerationTextEvent"/>s.
/// </summary>
public sealed class PlaygroundViewModel(IPlaygroundCommands commands) : IEventSink
{
    private readonly StringBuilder _adapterText = new();
    private readonly StringBuilder _baseText = new();
    private int _requestId = -1;

    /// <summary>The prompt to send.</summary>
    public string Prompt { get; set; } = "Once upon a time";

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
            case ModelChangedEvent changed when !IsGenerating:
                string? active = changed.Snapshot.AdaptersDisabled ? null : changed.Snapshot.Active?.Name;
                if (active == Adapter) return false;
                Adapter = active;
                return true;
            case GenerationFinishedEvent done when done.RequestId == _requestId:
                IsGenerating = false;
                double rate = done.Elapsed.TotalSeconds > 0 ? done.Tokens / done.Elapsed.TotalSeconds : 0;
                Status = done.Error is null
                    ? string.Create(CultureInfo.InvariantCulture, $"done: {done.Tokens} tokens in {done.Elapsed.TotalSeconds:0.0} s ({rate:0} tok/s)")
                    : $"stopped: {done.Error}";
                return true;
            default:
                return false;
        }
    }

    /// <summary>Sends the prompt with the current settings; refused when the numbers do not parse or a job runs.</summary>
    public CommandResult Send()
    {
        if (!int.TryParse(MaxNewTokens.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int max) || max is < 1 or > 4096)
            return Refuse("max tokens: a whole number from 1 to 4096");
        if (!double.TryParse(Temperature.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double temperature) || temperature < 0 || !double.IsFinite(temperature))
            return Refuse("temperature: a number ≥ 0 (0 = greedy)");
        var result = commands.Generate(Prompt, new GenerationOptions { MaxNewTokens = max, Temperature = temperature, TopP = temperature > 0 ? 0.9 : 1.0 });
        if (!result.Started) Status = result.Message;
        return result;
    }

    private CommandResult Refuse(string message)
    {
        Status = message;
        return CommandResult.Refused(message);
    }
}
