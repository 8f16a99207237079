using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// One LoRA adapter on a model: the <see cref="LoraLayer"/>s and <see cref="ModulesToSaveLayer"/>s that hold
/// it, and the biases its <c>bias</c> mode trains. Keys follow PEFT's <c>get_peft_model_state_dict</c> with the
/// adapter name removed:
/// <list type="bullet">
/// <item><c>base_model.model.{path}.lora_A.weight</c> [r, in], <c>base_model.model.{path}.lora_B.weight</c> [out, r];</item>
/// <item>DoRA: <c>base_model.model.{path}.lora_magnitude_vector</c> [out] (PEFT drops the <c>.weight</c>);</item>
/// <item>bias "all": every bias of the model under its module path (<c>…q_proj.base_layer.bias</c> inside LoRA
/// layers); "lora_only": the biases of this adapter's LoRA layers;</item>
/// <item>modules_to_save: the copy's parameters under the wrapped module's path, <c>base_model.model.lm_head.weight</c>.</item>
/// </list>
/// </summary>
public sealed class LoraAdapter : TunerLayerAdapter<LoraLayer>
{
    private readonly List<(string Path, ModulesToSaveLayer Layer)> _saved;

    internal LoraAdapter(IPeftModelSurface model, string name, LoraConfig config,
        List<(string Path, LoraLayer Layer)> layers, List<(string Path, ModulesToSaveLayer Layer)> saved)
        : base(model, name, config, layers)
    {
        LoraConfig = config;
        _saved = saved;
    }

    /// <summary>The adapter's config, typed.</summary>
    public LoraConfig LoraConfig { get; }

    /// <summary>The model the adapter lives on.</summary>
    public IPeftModelSurface Model => Surface;

    /// <summary>Module paths of the adapted layers, e.g. <c>model.layers.0.self_attn.q_proj</c>.</summary>
    public IReadOnlyList<string> TargetPaths => Layers.Select(l => l.Path).ToList();

    /// <summary>The modules_to_save wrappers holding a copy for this adapter, with their module paths.</summary>
    public IReadOnlyList<(string Path, ModulesToSaveLayer Layer)> SavedModules => _saved;

    /// <summary>Number of trainable parameters: r·(in + out) per layer (+ out with DoRA), plus biases and modules_to_save copies.</summary>
    public long TrainableParameterCount => NamedParameters().Sum(p => p.Parameter.NumberOfElements);

    /// <inheritdoc />
    public override IEnumerable<(string Key, Parameter Parameter)> NamedParameters()
    {
        EnsureLive();
        foreach (var (path, layer) in Layers)
        {
            yield return (AdapterStateDict.Key(path, "lora_A.weight"), layer.LoraA(Name));
            yield return (AdapterStateDict.Key(path, "lora_B.weight"), layer.LoraB(Name));
            if (layer.Magnitude(Name) is { } magnitude)
                yield return (AdapterStateDict.Key(path, "lora_magnitude_vector"), magnitude);
        }
        foreach (var (key, bias) in Biases())
            yield return (key, bias);
        foreach (var (path, layer) in _saved)
            foreach (var (name, p) in layer.Copy(Name).named_parameters())
                yield return (AdapterStateDict.Key(path, name), p);
    }

    /// <summary>The biases this adapter's <c>bias</c> mode makes trainable, keyed like PEFT's state dict.</summary>
    private IEnumerable<(string Key, Parameter Bias)> Biases()
    {
        switch (LoraConfig.Bias)
        {
            case "all":
                // Walk modules (not Root.named_parameters(), whose names can come out under field-name aliases).
                foreach (var (path, module) in TargetModuleMatcher.Candidates(Surface))
                {
                    if (module is LoraLayer lora)
                    {
                        if (BiasOf(lora.BaseLayer) is { } wrappedBias)
                            yield return (AdapterStateDict.Key(path, LoraLayer.BaseLayerName + ".bias"), wrappedBias);
                        continue;
                    }
                    if (module is ModulesToSaveLayer) continue;
                    foreach (var (name, p) in module.named_parameters(recurse: false))
                        if (name.Contains("bias", StringComparison.Ordinal))
                            yield return (KeyPrefix + (path.Length == 0 ? "" : path + ".") + name, p);
                }
                break;
            case "lora_only":
                foreach (var (path, layer) in Layers)
                    if (BiasOf(layer.BaseLayer) is { } bias)
                        yield return (AdapterStateDict.Key(path, LoraLayer.BaseLayerName + ".bias"), bias);
                break;
        }
    }

    private static Parameter? BiasOf(nn.Module module) => module switch
    {
        Linear l => l.bias,
        ILinearLayer q => q.Bias as Parameter,
        _ => null,
    };

    /// <summary>Marks this adapter's parameters (and its biases) trainable or frozen.</summary>
    public void SetTrainable(bool trainable)
    {
        foreach (var (_, p) in NamedParameters()) p.requires_grad = trainable;
    }

    /// <inheritdoc />
    /// <remarks>The tensors are detached aliases of the live parameters (no copy); the caller may dispose them.</remarks>
    public override IReadOnlyDictionary<string, Tensor> GetState()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, p) in NamedParameters()) state[key] = p.detach();
        // PEFT's ensure_weight_tying wraps lm_head too, its copy sharing the embedding copy's weight, and saves it
        // under lm_head's path as well (a clone: safetensors keeps no aliases). The same values, as PEFT writes them.
        foreach (var (_, layer) in TiedOutputCopies())
            state[TiedOutputKey] = layer.Weight.detach();
        return state;
    }

    /// <summary>The key PEFT saves a tied output layer's copy under.</summary>
    private static string TiedOutputKey => AdapterStateDict.Key("lm_head", "weight");

    /// <summary>This adapter's embedding copies that are also the tied output layer's table (ensure_weight_tying).</summary>
    private IEnumerable<(string Path, TrainableEmbedding Copy)> TiedOutputCopies() =>
        _saved.Where(s => s.Layer.TiesOutput(Name)).Select(s => (s.Path, (TrainableEmbedding)s.Layer.Copy(Name)));

    /// <inheritdoc />
    /// <remarks>
    /// Every key of <see cref="GetState"/> must be present with the same shape; all problems are reported at once
    /// (key and both shapes). Keys this adapter does not have are reported through the model's warnings.
    /// Values are copied, converting dtype and device as needed.
    /// </remarks>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        var expected = NamedParameters().ToList();
        // The tied output layer's copy is the embedding copy (see GetState): its key carries nothing of its own.
        if (TiedOutputCopies().Any() && state.ContainsKey(TiedOutputKey))
            state = state.Where(kv => kv.Key != TiedOutputKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        AdapterStateDict.ThrowIfAny(AdapterStateDict.Check(state, expected, Name, requireFloating: true), "LoRA", Name);
        var unexpected = AdapterStateDict.Unexpected(state, expected);
        if (unexpected.Count > 0)
            Surface.Warn($"LoRA adapter '{Name}': ignored {unexpected.Count} unexpected tensor(s): {string.Join(", ", unexpected.Take(5))}{(unexpected.Count > 5 ? ", …" : "")}");
        AdapterStateDict.CopyInto(state, expected);
    }

    /// <summary>
    /// Takes this adapter's modules_to_save copies out, before its LoRA layers drop it. A wrapper left without copies
    /// gets its original module back; with <paramref name="keepMerged"/> (PEFT's <c>merge_and_unload</c>) the copy
    /// replaces the module it was copied from instead.
    /// </summary>
    protected override void OnRemoving(bool keepMerged)
    {
        foreach (var (path, layer) in _saved)
        {
            bool tiesOutput = layer.TiesOutput(Name);
            var copy = layer.RemoveAdapter(Name);
            if (layer.AdapterNames.Count == 0 && ReferenceEquals(Surface.GetModule(path), layer))
            {
                if (keepMerged && copy is not null && tiesOutput)
                {
                    // ensure_weight_tying: the trained table serves both sides, so it goes into the model's own table,
                    // which the tied output layer reads: the merged model stays tied (tie_word_embeddings: true).
                    using (no_grad()) layer.Original.get_parameter("weight")!.copy_(((TrainableEmbedding)copy).Weight);
                    Surface.ReplaceModule(path, layer.Original);
                    copy.Dispose();
                    continue;
                }
                if (keepMerged && copy is not null)
                {
                    Surface.ReplaceModule(path, copy);
                    continue;
                }
                Surface.ReplaceModule(path, layer.Original);
            }
            copy?.Dispose();
        }
    }

    private void EnsureLive()
    {
        if (IsRemoved) throw new InvalidOperationException($"LoRA adapter '{Name}' has been removed from the model");
    }
}
