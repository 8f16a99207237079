using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Tests.Plugins;

/// <summary>A minimal AdamW loop over the adapters' parameters: next-token loss on one fixed batch.</summary>
internal sealed class TinyTrainer : IDisposable
{
    private const double LearningRate = 0.05;
    private readonly CausalLanguageModel _model;
    private readonly PeftModel _peft;
    private readonly Tensor _ids;
    private TorchSharp.Modules.AdamW _optimizer;

    public TinyTrainer(CausalLanguageModel model, PeftModel peft, Tensor ids)
    {
        _model = model;
        _peft = peft;
        _ids = ids;
        _optimizer = optim.AdamW(Parameters(peft), LearningRate, weight_decay: 0);
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
        var next = optim.AdamW(Parameters(_peft), LearningRate, weight_decay: 0);
        next.load_state_dict(state);
        _optimizer.Dispose();
        _optimizer = next;
    }

    /// <summary>The adapters' trainable parameters in a stable order (by saved key), so optimizer state maps across a reload.</summary>
    public static IReadOnlyList<TorchSharp.Modules.Parameter> Parameters(PeftModel peft) =>
        peft.TrainableParameters().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Parameter).ToList();

    public void Dispose() => _optimizer.Dispose();
}
