using PeftHost.Sdk;
using PeftHost.Sdk.Tuners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Plugins.Lora;

/// <summary>
/// PEFT's <c>ModulesToSaveWrapper</c>: keeps the original module as <c>original_module</c> and a trainable
/// copy per adapter under <c>modules_to_save.{adapter}</c>. The copy runs while its adapter is active
/// (the first active adapter that has one), the original otherwise; mixed-adapter batches pick per row.
/// PEFT saves the copy's parameters under the wrapped module's own path (<c>base_model.model.lm_head.weight</c>).
/// On embed_tokens of a model with tied embeddings, an adapter made with <c>ensure_weight_tying</c> keeps the tie:
/// its copy is also the output layer's table (<see cref="ITiedOutputTable"/>), as PEFT ties lm_head's copy to it.
/// </summary>
public sealed class ModulesToSaveLayer : CanonicalModule<Tensor, Tensor>, ITiedOutputTable
{
    private readonly nn.Module<Tensor, Tensor> _original;
    private readonly AdapterModuleDict _copies = new("modules_to_save");
    private readonly IAdapterRouting _routing;
    private readonly HashSet<string> _tyingAdapters = new(StringComparer.Ordinal);

    /// <summary>Wraps <paramref name="original"/>.</summary>
    public ModulesToSaveLayer(nn.Module<Tensor, Tensor> original, IAdapterRouting routing) : base("ModulesToSaveWrapper")
    {
        _original = original;
        _routing = routing;
        register_module("original_module", original);
        register_module("modules_to_save", _copies);
    }

    /// <summary>The wrapped module.</summary>
    public nn.Module<Tensor, Tensor> Original => _original;

    /// <summary>Adapters that have a copy here.</summary>
    public IReadOnlyList<string> AdapterNames => _copies.Names;

    /// <summary>The copy of <paramref name="adapter"/>.</summary>
    public nn.Module<Tensor, Tensor> Copy(string adapter) => (nn.Module<Tensor, Tensor>)_copies[adapter];

    /// <summary>True when <paramref name="adapter"/> has a copy here.</summary>
    public bool HasAdapter(string adapter) => _copies.Contains(adapter);

    /// <summary>Adds a trainable copy of the original module for <paramref name="adapter"/>.</summary>
    public void AddAdapter(string adapter, bool trainable)
    {
        var copy = CreateCopy(_original);
        foreach (var p in copy.parameters()) p.requires_grad = trainable;
        _copies.Add(adapter, copy);
    }

    /// <summary>Removes (and returns, not disposed) the copy of <paramref name="adapter"/>.</summary>
    public nn.Module<Tensor, Tensor>? RemoveAdapter(string adapter)
    {
        _tyingAdapters.Remove(adapter);
        return (nn.Module<Tensor, Tensor>?)_copies.Remove(adapter);
    }

    /// <summary>Makes <paramref name="adapter"/>'s copy (of an embedding table) also the tied output layer's table.</summary>
    public void TieOutput(string adapter)
    {
        if (Copy(adapter) is not TrainableEmbedding)
            throw new InvalidOperationException($"only a copy of an embedding table can be tied to the output layer, not '{Copy(adapter).GetName()}'");
        _tyingAdapters.Add(adapter);
    }

    /// <summary>True when <paramref name="adapter"/>'s copy is also the output layer's table.</summary>
    public bool TiesOutput(string adapter) => _tyingAdapters.Contains(adapter);

    /// <inheritdoc />
    /// <remarks>The copy of the adapter whose copy embeds this pass, when that adapter keeps the tie.</remarks>
    public Tensor? OutputTable
    {
        get
        {
            if (_tyingAdapters.Count == 0 || _routing.AdaptersDisabled) return null;
            if (_routing.RowAdapterNames is { } rows)
            {
                if (rows.Any(_tyingAdapters.Contains))
                    throw new NotSupportedException(
                        "a mixed-adapter batch cannot use an adapter made with ensure_weight_tying: its rows would need different output tables; " +
                        "run that adapter's rows in a batch of their own");
                return null;
            }
            var active = _routing.ActiveAdapters.FirstOrDefault(_copies.Contains);
            return active is not null && _tyingAdapters.Contains(active) ? ((TrainableEmbedding)Copy(active)).Weight : null;
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (_routing.AdaptersDisabled) return _original.forward(x);
        if (_routing.RowAdapterNames is { } rows) return MixedBatchForward(x, rows);
        var active = _routing.ActiveAdapters.FirstOrDefault(_copies.Contains);
        return active is null ? _original.forward(x) : Copy(active).forward(x);
    }

    private Tensor MixedBatchForward(Tensor x, IReadOnlyList<string> rows)
    {
        if (rows.Count != x.shape[0])
            throw new ArgumentException($"mixed-adapter batch: {rows.Count} adapter names for a batch of {x.shape[0]} rows");
        using var scope = NewDisposeScope();
        var result = _original.forward(x);
        foreach (var name in rows.Distinct().Where(_copies.Contains))
        {
            var indices = Enumerable.Range(0, rows.Count).Where(i => rows[i] == name).Select(i => (long)i).ToArray();
            var index = tensor(indices, ScalarType.Int64, x.device);
            var rowsOut = Copy(name).forward(x.index_select(0, index));
            result.index_copy_(0, index, rowsOut.to(result.dtype));
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>True when <see cref="CreateCopy"/> can copy <paramref name="original"/>.</summary>
    internal static bool CanCopy(nn.Module original) =>
        original is nn.Module<Tensor, Tensor> && (LinearLayers.IsLinear(original) || IsEmbeddingTable(original));

    private static bool IsEmbeddingTable(nn.Module module)
    {
        var parameters = module.named_parameters().Take(2).ToList();
        return parameters.Count == 1 && parameters[0].name == "weight" && parameters[0].parameter.dim() == 2;
    }

    /// <summary>
    /// A full-precision trainable copy: a <see cref="Linear"/> for linear layers (quantized ones are
    /// dequantized), a <see cref="TrainableEmbedding"/> for embedding tables (a module whose only parameter is a
    /// 2-D <c>weight</c>). Anything else is refused.
    /// </summary>
    internal static nn.Module<Tensor, Tensor> CreateCopy(nn.Module original)
    {
        using var _ = no_grad();
        switch (original)
        {
            case Linear l:
                return nn.Linear(new Parameter(l.weight!.detach().clone()), l.bias is null ? null : new Parameter(l.bias.detach().clone()));
            case ILinearLayer q:
                var weight = q.ReadWeight(q.Bias?.dtype ?? ScalarType.Float32);
                return nn.Linear(new Parameter(weight), q.Bias is null ? null : new Parameter(q.Bias.detach().clone()));
        }
        if (original is nn.Module<Tensor, Tensor> && IsEmbeddingTable(original))
            return new TrainableEmbedding(new Parameter(original.get_parameter("weight")!.detach().clone()));
        throw new NotSupportedException(
            $"modules_to_save supports linear layers and embedding tables; '{original.GetName()}' is a {original.GetType().Name}");
    }
}

/// <summary>An embedding table [vocab, hidden] looked up by id: the trainable copy of an embedding in <c>modules_to_save</c>.</summary>
public sealed class TrainableEmbedding : CanonicalModule<Tensor, Tensor>
{
    /// <summary>Wraps <paramref name="weight"/> [vocab, hidden], registered as <c>weight</c>.</summary>
    public TrainableEmbedding(Parameter weight) : base("Embedding")
    {
        register_parameter("weight", weight);
    }

    /// <summary>The table.</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>Rows of the table for <paramref name="ids"/>: [.., hidden].</summary>
    public override Tensor forward(Tensor ids)
    {
        var weight = Weight;
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view([.. ids.shape, weight.shape[1]]);
    }
}
