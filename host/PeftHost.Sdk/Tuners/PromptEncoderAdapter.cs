using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// The plumbing of a prompt-learning adapter (prompt tuning, P-tuning, prefix tuning): a prompt encoder registered
/// in the model at <c>prompt_encoder.{adapter}</c> (<see cref="PromptEncoderSlot"/>), a model hook that feeds its
/// output in, and the one tensor PEFT saves, <see cref="StateKey"/>: the encoder's output. Such adapters cannot be
/// merged. The subclass says what the output is, how it is loaded, and registers its hook.
/// </summary>
/// <typeparam name="TEncoder">The method's prompt encoder.</typeparam>
public abstract class PromptEncoderAdapter<TEncoder> : IAdapter where TEncoder : nn.Module
{
    /// <summary>The single key PEFT saves for prompt-learning methods.</summary>
    public const string StateKey = "prompt_embeddings";

    private IDisposable? _hook;
    private bool _removed;

    /// <summary>Creates adapter <paramref name="name"/> and registers <paramref name="encoder"/> in the model for it.</summary>
    /// <param name="surface">The model.</param>
    /// <param name="name">The adapter's name.</param>
    /// <param name="config">The config it was made from.</param>
    /// <param name="encoder">The prompt encoder; the adapter owns it (disposed on removal).</param>
    /// <param name="methodName">The method's name in messages, e.g. <c>prefix-tuning</c>.</param>
    protected PromptEncoderAdapter(IPeftModelSurface surface, string name, PeftConfig config, TEncoder encoder, string methodName)
    {
        Surface = surface;
        Name = name;
        Config = config;
        MethodName = methodName;
        Encoder = encoder;
        PromptEncoderSlot.Register(surface.Root, name, encoder);
    }

    /// <summary>The model the adapter lives on.</summary>
    protected IPeftModelSurface Surface { get; }

    /// <summary>The method's name in messages.</summary>
    protected string MethodName { get; }

    /// <inheritdoc cref="IAdapter.Name" />
    public string Name { get; }

    /// <inheritdoc />
    public PeftConfig Config { get; }

    /// <summary>The prompt encoder, registered at <c>prompt_encoder.{adapter}</c>.</summary>
    public TEncoder Encoder { get; }

    /// <inheritdoc />
    public bool CanMerge => false;

    /// <inheritdoc />
    public bool IsMerged => false;

    /// <summary>The shape of the saved <see cref="StateKey"/> tensor.</summary>
    protected abstract long[] StateShape { get; }

    /// <summary>How <see cref="StateShape"/> comes about, for the mismatch message (e.g. <c>num_virtual_tokens 4 × token_dim 64</c>).</summary>
    protected abstract string StateShapeOrigin { get; }

    /// <summary>The encoder's output, saved as <see cref="StateKey"/> (float32, with gradient when training).</summary>
    protected abstract Tensor EncoderOutput();

    /// <summary>Makes the encoder output <paramref name="output"/> (a checked <see cref="StateKey"/> tensor) exactly.</summary>
    protected abstract void LoadEncoderOutput(Tensor output);

    /// <summary>What to warn about before <see cref="LoadEncoderOutput"/> drops a trainable reparametrisation, or null.</summary>
    protected abstract string? ReparameterizationWarning();

    /// <summary>Keeps the registration of the model hook that feeds the encoder's output in; <see cref="Remove"/> disposes it.</summary>
    /// <param name="registration">What the surface returned when the subclass's constructor registered its hook.</param>
    protected void HoldHook(IDisposable registration) => _hook = registration;

    /// <inheritdoc />
    /// <remarks>Keyed as PEFT names them, without the adapter name: <c>prompt_encoder.embedding.weight</c>, ….</remarks>
    public IEnumerable<(string Key, Parameter Parameter)> NamedParameters() =>
        Encoder.named_parameters().Select(p => ($"{PromptEncoderSlot.ContainerName}.{p.name}", p.parameter)).ToList();

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> GetState()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var output = EncoderOutput().detach().to(ScalarType.Float32).cpu().clone();
        return new Dictionary<string, Tensor> { [StateKey] = output.MoveToOuterDisposeScope() };
    }

    /// <inheritdoc />
    /// <remarks>
    /// <see cref="StateKey"/> must be there with <see cref="StateShape"/>; other keys are ignored with a warning. The
    /// encoder then outputs exactly what was saved (a reparametrising network cannot be recovered from its output).
    /// </remarks>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        long[] expected = StateShape;
        if (!state.TryGetValue(StateKey, out var value))
            throw new InvalidDataException($"cannot load {MethodName} adapter '{Name}': {AdapterStateDict.Missing(StateKey, expected)}");
        if (!value.shape.SequenceEqual(expected))
            throw new InvalidDataException(
                $"cannot load {MethodName} adapter '{Name}': tensor '{StateKey}' has shape {AdapterStateDict.Shape(value.shape)} but the adapter expects {AdapterStateDict.Shape(expected)} " +
                $"({StateShapeOrigin})");
        foreach (var key in state.Keys.Where(k => k != StateKey))
            Surface.Warn($"{MethodName} adapter '{Name}': unexpected tensor '{key}' ignored");
        if (ReparameterizationWarning() is { } warning)
            Surface.Warn($"{MethodName} adapter '{Name}': {warning}");
        LoadEncoderOutput(value);
    }

    /// <inheritdoc />
    public void Merge() => throw new InvalidOperationException($"{MethodName} adapter '{Name}' cannot be merged into the base weights");

    /// <inheritdoc />
    public void Unmerge() { }

    /// <inheritdoc />
    /// <remarks>Removes the hook and the encoder (disposed) from the model.</remarks>
    public void Remove(bool keepMerged = false)
    {
        if (_removed) return;
        _removed = true;
        _hook?.Dispose();
        PromptEncoderSlot.Unregister(Surface.Root, Name);
        Encoder.Dispose();
    }
}
