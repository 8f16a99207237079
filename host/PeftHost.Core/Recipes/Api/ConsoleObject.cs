using Jint.Native;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Api;

/// <summary>A global <c>console</c> (log, info, warn, error) for habit's sake: it writes where <c>log</c> does.</summary>
internal static class ConsoleObject
{
    /// <summary>Defines <c>console</c> on the engine's global object.</summary>
    public static void Install(RecipeSession s)
    {
        var console = new JsObject(s.Engine);
        void Add(string name, LogLevel level) => console.FastSetDataProperty(name, s.Function(name, 1, values =>
        {
            s.Log(string.Join(" ", values.Select(v => ReportingApi.Show(s, v))), level);
            return JsValue.Undefined;
        }));
        Add("log", LogLevel.Info);
        Add("info", LogLevel.Info);
        Add("warn", LogLevel.Warning);
        Add("error", LogLevel.Error);
        s.Engine.SetValue("console", console);
    }
}
