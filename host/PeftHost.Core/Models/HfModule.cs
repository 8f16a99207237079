using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>
/// A model module whose children carry Hugging Face names and can be swapped by path — how
/// adapters wrap <c>q_proj</c> or replace a linear layer with a quantized one.
/// </summary>
public abstract class HfModule(string name) : PeftHost.Sdk.CanonicalModule(name)
{
    /// <summary>Names of the children <see cref="ReplaceChild"/> accepts.</summary>
    public abstract IReadOnlyCollection<string> ReplaceableChildren { get; }

    /// <summary>Swaps the child <paramref name="childName"/> for <paramref name="replacement"/>.</summary>
    public void ReplaceChild(string childName, nn.Module replacement)
    {
        if (!ReplaceableChildren.Contains(childName))
            throw new ArgumentException($"{GetName()} has no replaceable child '{childName}' (has: {string.Join(", ", ReplaceableChildren)})");
        if (replacement is not nn.Module<Tensor, Tensor> forward)
            throw new ArgumentException($"a replacement for '{childName}' must be a Module<Tensor, Tensor>, got {replacement.GetType().Name}");
        SetChild(childName, forward);
        _internal_submodules.Remove(childName);
        register_module(childName, replacement);
    }

    /// <summary>Stores <paramref name="module"/> in the field that backs <paramref name="childName"/>.</summary>
    protected abstract void SetChild(string childName, nn.Module<Tensor, Tensor> module);
}
