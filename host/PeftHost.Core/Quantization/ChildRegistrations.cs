using System.Reflection;
using PeftHost.Core.Models;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>
/// Keeps a parent's child registrations consistent after a module swap. TorchSharp registers a
/// module's module-typed fields as children of their own (<c>_q</c> beside <c>q_proj</c>) when the
/// module is registered under its parent; <see cref="HfModule.ReplaceChild"/> re-registers the
/// canonical name only, so the field-named alias would keep the replaced module — and its
/// full-precision weight — alive in <c>named_parameters</c>.
/// </summary>
internal static class ChildRegistrations
{
    private static readonly FieldInfo Submodules = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new MissingFieldException("nn.Module._internal_submodules");

    /// <summary>True when <paramref name="name"/> is a child <paramref name="parent"/> lets adapters replace (not a field alias).</summary>
    public static bool IsCanonical(nn.Module parent, string name) =>
        parent is HfModule hf ? hf.ReplaceableChildren.Contains(name) : !name.StartsWith('_');

    /// <summary>Removes every registration of <paramref name="replaced"/> left under <paramref name="parent"/>.</summary>
    public static void RemoveStale(nn.Module parent, nn.Module replaced)
    {
        var stale = parent.named_children().Where(c => ReferenceEquals(c.module, replaced)).Select(c => c.name).ToList();
        if (stale.Count == 0) return;
        var dictionary = (TorchSharp.Utils.OrderedDict<string, nn.Module>)Submodules.GetValue(parent)!;
        foreach (var name in stale) dictionary.Remove(name);
    }
}
