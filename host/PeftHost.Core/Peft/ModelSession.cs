using PeftHost.Core.Models;
using PeftHost.Core.Telemetry;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Peft;

/// <summary>
/// One loaded model as every front end holds it: the base model, the folder it came from, its tokenizer, and the
/// <see cref="PeftModel"/> over it once adapters are added, with that model's hot-reload registration. Recipes
/// (<c>RecipeModel</c>), the CLI's model commands and the dashboard (<c>DashboardModel</c>) all hold their model this way.
/// </summary>
/// <param name="model">The model; the session disposes it.</param>
/// <param name="folder">The folder it was loaded from, if any: where the tokenizer comes from when none is given.</param>
/// <param name="tokenizer">The tokenizer, if already loaded.</param>
/// <param name="nameOrPath">The model as the user named it (adapters record it as <c>base_model_name_or_path</c>); default: <paramref name="folder"/>.</param>
public sealed class ModelSession(CausalLanguageModel model, string? folder, TextTokenizer? tokenizer = null, string? nameOrPath = null) : IDisposable
{
    private TextTokenizer? _tokenizer = tokenizer;
    private IDisposable? _reloadRegistration;
    private readonly List<IDisposable> _owned = [];

    /// <summary>The model.</summary>
    public CausalLanguageModel Model { get; } = model;

    /// <summary>The folder it was loaded from, if any.</summary>
    public string? Folder { get; } = folder;

    /// <summary>The model as the user named it: what adapters record as <c>base_model_name_or_path</c>.</summary>
    public string? NameOrPath { get; } = nameOrPath ?? folder;

    /// <summary>The PEFT model, once <see cref="OpenPeft"/> made one; null again after <see cref="ClosePeft"/>.</summary>
    public PeftModel? Peft { get; private set; }

    /// <summary>The tokenizer: the one given, else the folder's, loaded on first use.</summary>
    /// <exception cref="InvalidOperationException">There is neither.</exception>
    public TextTokenizer Tokenizer =>
        _tokenizer ??= Folder is null ? throw new InvalidOperationException("the model has no tokenizer") : TokenizerLoader.Load(Folder);

    /// <summary>The tokenizer if one is given or loadable from the folder, else null.</summary>
    public TextTokenizer? TryTokenizer()
    {
        try { return _tokenizer ?? (Folder is null ? null : Tokenizer); }
        catch (TokenizerFormatException) { return null; }
    }

    /// <summary>
    /// The PEFT model over <see cref="Model"/>: the current one, else a new one with adapter methods from
    /// <paramref name="methods"/>, taken into hot reloads by <paramref name="trackReloads"/> (the registration lasts until
    /// <see cref="ClosePeft"/> or <see cref="Dispose"/>).
    /// </summary>
    public PeftModel OpenPeft(IMethodCatalog methods, EventBus? events = null, Func<PeftModel, IDisposable?>? trackReloads = null)
    {
        if (Peft is not null) return Peft;
        Peft = new PeftModel(Model, methods, events, TryTokenizer(), NameOrPath);
        _reloadRegistration = trackReloads?.Invoke(Peft);
        return Peft;
    }

    /// <summary>Lets the PEFT model go (its adapters were merged and unloaded, or never added) and ends its hot-reload registration.</summary>
    public void ClosePeft()
    {
        _reloadRegistration?.Dispose();
        _reloadRegistration = null;
        Peft = null;
    }

    /// <summary>Disposes <paramref name="owned"/> after the model (the plugin host that lent the session its methods).</summary>
    public void DisposeWith(IDisposable owned) => _owned.Add(owned);

    /// <summary>Ends the hot-reload registration, frees the model's tensors, then what the session owns.</summary>
    public void Dispose()
    {
        ClosePeft();
        Model.Dispose();
        foreach (var owned in _owned) owned.Dispose();
        _owned.Clear();
    }
}
