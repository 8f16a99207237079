using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// Keys and load checks of an adapter's saved tensors, as PEFT's <c>get_peft_model_state_dict</c> writes them:
/// <c>base_model.model.{module path}.{name}</c>, without the adapter name.
/// </summary>
public static class AdapterStateDict
{
    /// <summary>The prefix PEFT puts in front of module paths in saved keys.</summary>
    public const string KeyPrefix = "base_model.model.";

    /// <summary>The saved key of <paramref name="name"/> (e.g. <c>lora_A.weight</c>) in the module at <paramref name="modulePath"/>.</summary>
    public static string Key(string modulePath, string name) => KeyPrefix + modulePath + "." + name;

    /// <summary>A shape as messages print it: <c>[4, 16]</c>.</summary>
    public static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>The problem of a tensor that is not in the saved state.</summary>
    public static string Missing(string key, IEnumerable<long> expectedShape) => $"missing tensor '{key}' (expected shape {Shape(expectedShape)})";

    /// <summary>
    /// The problems of loading <paramref name="state"/> into <paramref name="expected"/>: each key missing, or
    /// present with another shape than its parameter (or, with <paramref name="requireFloating"/>, not floating).
    /// Keys of <paramref name="state"/> that are not expected are not problems (see <see cref="Unexpected"/>).
    /// </summary>
    /// <param name="state">The loaded tensors.</param>
    /// <param name="expected">The adapter's parameters, keyed as saved.</param>
    /// <param name="adapter">The adapter's name, for the messages.</param>
    /// <param name="requireFloating">True to refuse tensors of an integer or boolean dtype.</param>
    public static List<string> Check(IReadOnlyDictionary<string, Tensor> state, IEnumerable<(string Key, Parameter Parameter)> expected,
        string adapter, bool requireFloating = false)
    {
        var problems = new List<string>();
        foreach (var (key, p) in expected)
        {
            if (!state.TryGetValue(key, out var value))
                problems.Add(Missing(key, p.shape));
            else if (!value.shape.SequenceEqual(p.shape))
                problems.Add($"tensor '{key}' has shape {Shape(value.shape)} but adapter '{adapter}' expects {Shape(p.shape)}");
            else if (requireFloating && !value.is_floating_point())
                problems.Add($"tensor '{key}' has dtype {value.dtype}; expected a floating dtype");
        }
        return problems;
    }

    /// <summary>
    /// Throws when there are <paramref name="problems"/>: one <see cref="InvalidDataException"/>
    /// <c>cannot load {method} adapter '{adapter}': …</c> listing the first 20 and counting the rest.
    /// </summary>
    /// <exception cref="InvalidDataException">There is at least one problem.</exception>
    public static void ThrowIfAny(IReadOnlyList<string> problems, string method, string adapter)
    {
        if (problems.Count > 0)
            throw new InvalidDataException($"cannot load {method} adapter '{adapter}': " + string.Join("; ", problems.Take(20))
                + (problems.Count > 20 ? $"; and {problems.Count - 20} more" : ""));
    }

    /// <summary>The keys of <paramref name="state"/> that are not among <paramref name="expected"/>, in the state's order.</summary>
    public static List<string> Unexpected(IReadOnlyDictionary<string, Tensor> state, IEnumerable<(string Key, Parameter Parameter)> expected)
    {
        var known = expected.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        return state.Keys.Where(k => !known.Contains(k)).ToList();
    }

    /// <summary>
    /// Copies each expected key's tensor of <paramref name="state"/> into its parameter, without autograd, converting
    /// dtype and device as needed; every key must be present (check with <see cref="Check"/> first).
    /// </summary>
    public static void CopyInto(IReadOnlyDictionary<string, Tensor> state, IEnumerable<(string Key, Parameter Parameter)> expected)
    {
        using var _ = no_grad();
        foreach (var (key, p) in expected) p.copy_(state[key]);
    }
}
