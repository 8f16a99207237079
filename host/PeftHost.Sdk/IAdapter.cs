using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// One named adapter living on a model: what a method's <see cref="IPeftMethod.Inject"/> returns.
/// </summary>
public interface IAdapter
{
    /// <summary>The adapter's name on the model (PEFT's <c>adapter_name</c>, "default" unless told).</summary>
    string Name { get; }

    /// <summary>The config the adapter was made from.</summary>
    PeftConfig Config { get; }

    /// <summary>
    /// The adapter's parameters keyed the way PEFT saves them, without the adapter name,
    /// e.g. <c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c>. These are
    /// the tensors that train; <see cref="GetState"/> is what is saved.
    /// </summary>
    IEnumerable<(string Key, TorchSharp.Modules.Parameter Parameter)> NamedParameters();

    /// <summary>The tensors to save, keyed as PEFT saves them (see <see cref="NamedParameters"/>).</summary>
    IReadOnlyDictionary<string, Tensor> GetState();

    /// <summary>
    /// Loads saved tensors (as written by <see cref="GetState"/> or by Python PEFT).
    /// Missing or mis-shaped keys are errors naming the key.
    /// </summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);

    /// <summary>Whether <see cref="Merge"/> is possible for this adapter.</summary>
    bool CanMerge { get; }

    /// <summary>Whether the adapter's delta is folded into the base weights: true only when it is merged everywhere it lives.</summary>
    bool IsMerged { get; }

    /// <summary>Folds the adapter into the base weights (W += ΔW).</summary>
    void Merge();

    /// <summary>Takes a merged adapter back out of the base weights.</summary>
    void Unmerge();

    /// <summary>
    /// Removes the adapter from the model, restoring the modules it wrapped when it was the
    /// last adapter on them. Unmerges first unless <paramref name="keepMerged"/> is true.
    /// </summary>
    void Remove(bool keepMerged = false);
}
