using Jint;
using Jint.Native;

namespace PeftHost.Core.Recipes.Interop;

/// <summary>Short descriptions of JavaScript values for error messages: <c>string "abc"</c>, <c>number 3</c>, <c>an array</c>.</summary>
public static class JsDescribe
{
    /// <summary>Describes <paramref name="v"/> in a few words.</summary>
    public static string Value(JsValue v)
    {
        if (v.IsUndefined()) return "undefined";
        if (v.IsNull()) return "null";
        if (v.IsString())
        {
            string s = v.AsString();
            return $"string \"{(s.Length > 40 ? s[..40] + "…" : s)}\"";
        }
        if (v.IsNumber()) return $"number {v}";
        if (v.IsBoolean()) return $"boolean {v}";
        if (v.IsArray()) return "an array";
        if (v.IsCallable()) return "a function";
        if (v.IsObject()) return "an object";
        return v.Type.ToString().ToLowerInvariant();
    }
}
