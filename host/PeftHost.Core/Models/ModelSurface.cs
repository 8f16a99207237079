using PeftHost.Sdk;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>The <see cref="IPeftModelSurface"/> of a <see cref="CausalLanguageModel"/>, handed to method plugins.</summary>
public sealed class ModelSurface(CausalLanguageModel model, ITextEncoder? tokenizer = null, Action<string>? warn = null) : IPeftModelSurface
{
    /// <summary>The model behind the surface.</summary>
    public CausalLanguageModel Model => model;

    /// <inheritdoc />
    public nn.Module Root => model;

    /// <inheritdoc />
    public ModelDimensions Dimensions { get; } = new(
        model.Config.HiddenSize, model.Config.IntermediateSize, model.Config.NumHiddenLayers,
        model.Config.NumAttentionHeads, model.Config.NumKeyValueHeads, model.Config.HeadDim, model.Config.VocabSize,
        model.Config.EmbeddingScaleInLookup ? model.Config.EmbeddingScale : 1);

    /// <inheritdoc />
    public string ModelType => model.Config.ModelType;

    /// <inheritdoc />
    public Device Device => model.Device;

    /// <inheritdoc />
    public ScalarType WeightDtype => model.Dtype;

    /// <inheritdoc />
    public IAdapterRouting Routing => model.Hooks.Routing;

    /// <inheritdoc />
    public ITextEncoder? Tokenizer { get; set; } = tokenizer;

    /// <inheritdoc />
    public IEnumerable<(string Path, nn.Module Module)> NamedModules() => ModuleTree.Canonical(model);

    /// <inheritdoc />
    public nn.Module GetModule(string path)
    {
        if (path.Length == 0) return model;
        nn.Module current = model;
        foreach (var part in path.Split('.'))
        {
            var child = current.named_children().FirstOrDefault(c => c.name == part).module;
            current = child ?? throw new ArgumentException($"no module at '{path}' (no child '{part}' under '{current.GetName()}')");
        }
        return current;
    }

    /// <inheritdoc />
    public void ReplaceModule(string path, nn.Module replacement)
    {
        int dot = path.LastIndexOf('.');
        string parentPath = dot < 0 ? "" : path[..dot];
        string childName = path[(dot + 1)..];
        if (GetModule(parentPath) is not HfModule parent)
            throw new ArgumentException($"the module at '{parentPath}' does not allow replacing its children");
        parent.ReplaceChild(childName, replacement);
    }

    /// <inheritdoc />
    public IDisposable AddInputEmbeddingHook(IInputEmbeddingHook hook) => model.Hooks.AddEmbeddingHook(hook);

    /// <inheritdoc />
    public IDisposable AddAttentionPrefix(IAttentionPrefixProvider provider) => model.Hooks.AddPrefix(provider);

    /// <inheritdoc />
    public IDisposable AddLossTerm(ILossTerm term) => model.Hooks.AddLossTerm(term);

    /// <inheritdoc />
    public IDisposable AddTrainingHooks(ITrainingHooks hooks) => model.Hooks.AddTrainingHooks(hooks);

    /// <inheritdoc />
    public void Warn(string message) => warn?.Invoke(message);
}
