using Jint;
using Jint.Native;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Positional arguments of an API call, read with errors that name the function and parameter.</summary>
internal readonly struct ApiArguments(string function, JsValue[] values)
{
    /// <summary>The function being called.</summary>
    public string Function { get; } = function;

    /// <summary>Number of arguments passed.</summary>
    public int Count => values.Length;

    /// <summary>Argument <paramref name="index"/>, or undefined.</summary>
    public JsValue this[int index] => index < values.Length ? values[index] : JsValue.Undefined;

    /// <summary>True when argument <paramref name="index"/> is absent, undefined or null.</summary>
    public bool IsMissing(int index) => this[index].IsUndefined() || this[index].IsNull();

    /// <summary>A required string argument.</summary>
    public string String(int index, string parameter)
    {
        var v = this[index];
        if (!v.IsString()) throw new Interop.RecipeApiException($"{Function}: {parameter} must be a string, got {Interop.JsDescribe.Value(v)}");
        return v.AsString();
    }

    /// <summary>An optional string argument.</summary>
    public string String(int index, string parameter, string fallback) => IsMissing(index) ? fallback : String(index, parameter);

    /// <summary>A required function argument.</summary>
    public JsValue Callable(int index, string parameter)
    {
        var v = this[index];
        if (!v.IsCallable()) throw new Interop.RecipeApiException($"{Function}: {parameter} must be a function, got {Interop.JsDescribe.Value(v)}");
        return v;
    }

    /// <summary>A required array of strings.</summary>
    public IReadOnlyList<string> Strings(int index, string parameter)
    {
        var v = this[index];
        if (!v.IsArray() || v.AsArray().ToArray().Any(e => !e.IsString()))
            throw new Interop.RecipeApiException($"{Function}: {parameter} must be an array of strings, got {Interop.JsDescribe.Value(v)}");
        return v.AsArray().ToArray().Select(e => e.AsString()).ToArray();
    }

    /// <summary>A required array of numbers.</summary>
    public IReadOnlyList<double> Numbers(int index, string parameter)
    {
        var v = this[index];
        if (!v.IsArray() || v.AsArray().ToArray().Any(e => !e.IsNumber()))
            throw new Interop.RecipeApiException($"{Function}: {parameter} must be an array of numbers, got {Interop.JsDescribe.Value(v)}");
        return v.AsArray().ToArray().Select(e => e.AsNumber()).ToArray();
    }

    /// <summary>Throws when more arguments were passed than the function takes.</summary>
    public ApiArguments AtMost(int count, string signature)
    {
        if (values.Length > count && !values.Skip(count).All(v => v.IsUndefined()))
            throw new Interop.RecipeApiException($"{Function}: too many arguments ({values.Length}); it takes {signature}");
        return this;
    }
}
