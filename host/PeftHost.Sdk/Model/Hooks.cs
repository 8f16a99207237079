using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>Supplies virtual token embeddings that go in front of the input embeddings.</summary>
public interface IInputEmbeddingHook
{
    /// <summary>The adapter this hook belongs to; it runs only while that adapter is active.</summary>
    string AdapterName { get; }

    /// <summary>How many virtual tokens are prepended.</summary>
    int VirtualTokenCount { get; }

    /// <summary>The virtual embeddings, shape [batch, virtual tokens, hidden], in the model's dtype.</summary>
    Tensor VirtualEmbeddings(long batchSize);
}

/// <summary>Supplies key/value prefixes for every attention layer (prefix tuning).</summary>
public interface IAttentionPrefixProvider
{
    /// <summary>The adapter this provider belongs to; it runs only while that adapter is active.</summary>
    string AdapterName { get; }

    /// <summary>How many prefix positions each layer's keys and values get.</summary>
    int PrefixLength { get; }

    /// <summary>
    /// Computes the prefixes for one forward pass. The result gives, per layer, key and value
    /// tensors of shape [batch, key/value heads, prefix length, head dim].
    /// </summary>
    IAttentionPrefix Compute(long batchSize);
}

/// <summary>The per-layer prefixes of one forward pass.</summary>
public interface IAttentionPrefix : IDisposable
{
    /// <summary>Key and value prefixes for layer <paramref name="layerIndex"/>.</summary>
    (Tensor Key, Tensor Value) ForLayer(int layerIndex);
}

/// <summary>An extra term added to the training loss.</summary>
public interface ILossTerm
{
    /// <summary>The adapter this term belongs to; it counts only while that adapter is active.</summary>
    string AdapterName { get; }

    /// <summary>The term's value for the current step (a scalar with gradient), or null for none.</summary>
    Tensor? Compute();
}

/// <summary>Where the trainer is, passed to <see cref="ITrainingHooks"/>.</summary>
/// <param name="GlobalStep">The optimizer step about to be taken (0-based).</param>
/// <param name="TotalSteps">The number of optimizer steps the run will take.</param>
public readonly record struct TrainingStepInfo(int GlobalStep, int TotalSteps);

/// <summary>Callbacks the trainer runs on every optimizer step.</summary>
public interface ITrainingHooks
{
    /// <summary>The adapter these hooks belong to.</summary>
    string AdapterName { get; }

    /// <summary>After gradients are accumulated, before clipping and the optimizer step (AdaLoRA's update_and_allocate).</summary>
    void AfterBackward(TrainingStepInfo step) { }

    /// <summary>Right before the optimizer step.</summary>
    void BeforeOptimizerStep(TrainingStepInfo step) { }

    /// <summary>After the optimizer step.</summary>
    void AfterOptimizerStep(TrainingStepInfo step) { }
}
