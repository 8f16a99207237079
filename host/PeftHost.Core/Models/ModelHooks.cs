using PeftHost.Sdk;

namespace PeftHost.Core.Models;

/// <summary>
/// The adapters' hooks on a model and the routing state they consult. Owned by the model;
/// filled by <see cref="ModelSurface"/> on behalf of method plugins.
/// </summary>
public sealed class ModelHooks
{
    private readonly List<IInputEmbeddingHook> _embeddingHooks = [];
    private readonly List<IAttentionPrefixProvider> _prefixProviders = [];
    private readonly List<ILossTerm> _lossTerms = [];
    private readonly List<ITrainingHooks> _trainingHooks = [];

    /// <summary>Which adapters run.</summary>
    public AdapterRouting Routing { get; } = new();

    internal IDisposable Add<T>(List<T> list, T item)
    {
        list.Add(item);
        return new Removal(() => list.Remove(item));
    }

    internal IDisposable AddEmbeddingHook(IInputEmbeddingHook hook) => Add(_embeddingHooks, hook);
    internal IDisposable AddPrefix(IAttentionPrefixProvider provider) => Add(_prefixProviders, provider);
    internal IDisposable AddLossTerm(ILossTerm term) => Add(_lossTerms, term);
    internal IDisposable AddTrainingHooks(ITrainingHooks hooks) => Add(_trainingHooks, hooks);

    /// <summary>The input-embedding hook of the active adapter, if it has one.</summary>
    public IInputEmbeddingHook? ActiveInputEmbeddingHook() => Active(_embeddingHooks, h => h.AdapterName);

    /// <summary>The attention prefix provider of the active adapter, if it has one.</summary>
    public IAttentionPrefixProvider? ActiveAttentionPrefix() => Active(_prefixProviders, p => p.AdapterName);

    /// <summary>Loss terms of active adapters.</summary>
    public IEnumerable<ILossTerm> ActiveLossTerms() => _lossTerms.Where(t => Routing.IsActiveForAllRows(t.AdapterName)).ToArray();

    /// <summary>Training hooks of active adapters.</summary>
    public IEnumerable<ITrainingHooks> ActiveTrainingHooks() => _trainingHooks.Where(h => Routing.IsActiveForAllRows(h.AdapterName)).ToArray();

    private T? Active<T>(List<T> items, Func<T, string> adapterOf) where T : class
    {
        var active = items.Where(i => Routing.IsActiveForAllRows(adapterOf(i))).ToArray();
        if (active.Length > 0 && Routing.RowAdapterNames is not null)
            throw new InvalidOperationException("prompt and prefix methods cannot serve mixed-adapter batches");
        if (active.Length > 1)
            throw new InvalidOperationException($"adapters {string.Join(", ", active.Select(adapterOf))} both add virtual tokens or prefixes; activate one");
        return active.FirstOrDefault();
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        private Action? _remove = remove;
        public void Dispose() { _remove?.Invoke(); _remove = null; }
    }
}

/// <summary>The mutable routing state behind <see cref="IAdapterRouting"/>.</summary>
public sealed class AdapterRouting : IAdapterRouting
{
    /// <inheritdoc />
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];

    /// <inheritdoc />
    public bool AdaptersDisabled { get; set; }

    /// <inheritdoc />
    public IReadOnlyList<string>? RowAdapterNames { get; set; }

    /// <summary>True when <paramref name="adapter"/> is active and not disabled (rows aside).</summary>
    public bool IsActiveForAllRows(string adapter) => !AdaptersDisabled && ActiveAdapters.Contains(adapter);
}
