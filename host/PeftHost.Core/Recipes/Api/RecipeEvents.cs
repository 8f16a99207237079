using Jint.Native;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// Handlers registered with <c>on(event, fn)</c>. They run on the script thread for every
/// <c>train</c> call, after the call's own <c>onStep</c>/<c>onLog</c>/… callbacks.
/// </summary>
internal sealed class RecipeEvents
{
    /// <summary>The events, with what they mean.</summary>
    public static readonly IReadOnlyDictionary<string, string> Names = new Dictionary<string, string>
    {
        ["step"] = "after every optimizer step (the handler may change the learning rate, switch adapters or stop)",
        ["log"] = "every logEvery steps, with the mean loss, learning rate and tokens/s",
        ["evaluate"] = "after each evaluation on the validation set",
        ["save"] = "after each checkpoint is written",
        ["end"] = "when a training run ends, with why",
        ["plugin"] = "when a changed plugin is hot-reloaded at a step boundary, or its reload is refused and the previous build keeps serving",
    };

    private readonly Dictionary<string, List<JsValue>> _handlers = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="handler"/>; the returned action removes it.</summary>
    public Action Add(string name, JsValue handler)
    {
        if (!_handlers.TryGetValue(name, out var list)) _handlers[name] = list = [];
        list.Add(handler);
        return () => list.Remove(handler);
    }

    /// <summary>The handlers of <paramref name="name"/>, in registration order (a snapshot).</summary>
    public IReadOnlyList<JsValue> For(string name) => _handlers.TryGetValue(name, out var list) ? list.ToArray() : [];
}
