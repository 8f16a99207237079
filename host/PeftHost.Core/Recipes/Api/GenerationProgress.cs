using System.Diagnostics;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Publishes a generation's progress (decoding steps, tokens per second) on the event bus, a few times a second at most.</summary>
internal sealed class GenerationProgress(EventBus events, int rows, int maxNewTokens)
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private readonly int[] _perRow = new int[rows];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _last;
    private long _tokens;

    /// <summary>The generator's per-token callback (job thread).</summary>
    public void OnToken(int row, int token)
    {
        _perRow[row]++;
        _tokens++;
        if (_clock.Elapsed - _last < Interval) return;
        _last = _clock.Elapsed;
        events.Publish(new RecipeProgressEvent("generate", _perRow.Max(), maxNewTokens, Rate(), Final: false));
    }

    /// <summary>Reports the end (only when progress was shown: short generations stay silent).</summary>
    public void Finish()
    {
        if (_last > TimeSpan.Zero) events.Publish(new RecipeProgressEvent("generate", _perRow.Max(), maxNewTokens, Rate(), Final: true));
    }

    private double Rate() => _tokens / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
}
