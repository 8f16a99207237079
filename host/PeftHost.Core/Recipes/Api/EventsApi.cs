using Jint;
using Jint.Native;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>on(event, fn)</c>: subscribes a handler to training events for the rest of the run.</summary>
internal static class EventsApi
{
    /// <summary>Adds the function.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("on", s.Function("on", 2, values =>
        {
            var args = new ApiArguments("on", values).AtMost(2, "(event, fn)");
            string name = args.String(0, "event");
            if (!RecipeEvents.Names.ContainsKey(name))
            {
                string? hint = KeyNames.DidYouMean(name, RecipeEvents.Names.Keys);
                throw new RecipeApiException($"on: unknown event '{name}'" + (hint is null ? "" : $"; did you mean '{hint}'?") +
                    $" (events: {string.Join(", ", RecipeEvents.Names.Keys)})");
            }
            var remove = s.Handlers.Add(name, args.Callable(1, "fn"));
            return s.Function("off", 0, _ => { remove(); return JsValue.Undefined; });
        }));
    }
}
