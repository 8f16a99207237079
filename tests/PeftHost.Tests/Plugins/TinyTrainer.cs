using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Plugins;

/// <summary>A minimal AdamW loop over the adapters' parameters: next-token loss on one fixed batch.</summary>
internal sealed class TinyTrainer : IDisposable
{
    private const double LearningRate = 0.05;
    private readonly CausalLanguageModel _model;
    private readonly ReattachingAdapters _adapters;
    private readonly Tensor _ids;
    private TorchSharp.Modules.AdamW _optimizer;

    public TinyTrainer(CausalLanguageModel model, ReattachingAdapters adapters, Tensor ids)
    {
        _model = model;
        _adapters = adapters;
        _ids = ids;
        _optimizer = optim.AdamW(adapters.Parameters(), LearningRate, weight_decay: 0);
    }

    public int Steps { get; private set; }

    /// <summary>One optimizer step; returns the loss.</summary>
    public float Step()
    {
        using var scope = NewDisposeScope();
        _optimizer.zero_grad();
        var loss = LanguageModelLoss.Compute(_model.Forward(_ids), _ids);
        loss.backward();
        _optimizer.step();
        Steps++;
        return loss.item<float>();
    }

    /// <summary>
    /// After a reload the adapters have new parameter tensors: a new optimizer over them, with the
    /// old one's moments carried over (same parameter order), as the trainer will do.
    /// </summary>
    public void Rebind()
    {
        var state = _optimizer.state_dict();
        var next = optim.AdamW(_adapters.Parameters(), LearningRate, weight_decay: 0);
        next.load_state_dict(state);
        _optimizer.Dispose();
        _optimizer = next;
    }

    public void Dispose() => _optimizer.Dispose();
}
