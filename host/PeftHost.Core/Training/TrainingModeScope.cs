using PeftHost.Core.Models;
using TorchSharp.Modules;

namespace PeftHost.Core.Training;

/// <summary>
/// Puts a model in training shape for a run — train mode, gradient checkpointing as asked,
/// requires_grad on the trainable parameters and (optionally) off on all others — and puts
/// everything back when disposed.
/// </summary>
internal sealed class TrainingModeScope : IDisposable
{
    private readonly CausalLanguageModel _model;
    private readonly bool _wasTraining, _wasCheckpointing;
    private readonly List<(Parameter Parameter, bool RequiresGrad)> _saved = [];

    public TrainingModeScope(CausalLanguageModel model, IReadOnlyCollection<Parameter> trainable, bool freezeOthers, bool gradientCheckpointing)
    {
        _model = model;
        _wasTraining = model.training;
        _wasCheckpointing = model.GradientCheckpointing;
        // Modules hand out the Parameter objects they hold, so identity tells trainable ones apart.
        var isTrainable = new HashSet<Parameter>(trainable, ReferenceEqualityComparer.Instance);
        foreach (var (_, p) in model.named_parameters())
        {
            _saved.Add((p, p.requires_grad));
            if (freezeOthers && !isTrainable.Contains(p)) p.requires_grad = false;
        }
        foreach (var p in trainable)
        {
            _saved.Add((p, p.requires_grad));
            p.requires_grad = true;
        }
        model.train();
        model.GradientCheckpointing = gradientCheckpointing;
    }

    /// <summary>Gives newly bound parameters (after a reload) requires_grad, to be restored with the rest.</summary>
    public void Track(IEnumerable<Parameter> parameters)
    {
        foreach (var p in parameters)
        {
            _saved.Add((p, p.requires_grad));
            p.requires_grad = true;
        }
    }

    public void Dispose()
    {
        for (int i = _saved.Count - 1; i >= 0; i--)
        {
            var (p, requiresGrad) = _saved[i];
            if (!p.IsInvalid) p.requires_grad = requiresGrad;
        }
        _model.train(_wasTraining);
        _model.GradientCheckpointing = _wasCheckpointing;
    }
}
