using TorchSharp;

namespace PeftHost.Sdk;

/// <summary>
/// The one place that lists a module tree: every module once, under its canonical path. TorchSharp can register a
/// module a second time under a C# field name (<c>_q</c>, <c>&lt;Mlp&gt;k__BackingField</c>) when a class leaves
/// its field auto-registration on; that registration always comes after the explicit one (TorchSharp runs it when
/// the module itself is registered, after its constructor's <c>register_module</c> calls), so the first path a
/// module is reached by is its Hugging Face name and any later one is an alias.
/// </summary>
public static class ModuleTree
{
    /// <summary>
    /// <paramref name="root"/> as <c>""</c>, then each module below it once, in TorchSharp's <c>named_modules</c> order,
    /// under the first path that reaches it.
    /// </summary>
    public static IEnumerable<(string Path, torch.nn.Module Module)> Canonical(torch.nn.Module root)
    {
        var seen = new HashSet<torch.nn.Module>(ReferenceEqualityComparer.Instance) { root };
        yield return ("", root);
        foreach (var (path, module) in root.named_modules())
            if (seen.Add(module)) yield return (path, module);
    }
}
