using Jint.Native;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// The host side of a recipe's model: the base model, its folder and tokenizer, and the PEFT model
/// once adapters are added. A base handle (<c>kind: "model"</c>) and a PEFT handle
/// (<c>kind: "peftModel"</c>) both point here, as PEFT's wrapper and the model it injects into
/// share the same modules.
/// </summary>
internal sealed class RecipeModel(CausalLanguageModel model, string? folder, string name, string? nameOrPath = null) : IDisposable
{
    private TextTokenizer? _tokenizer;

    /// <summary>The model.</summary>
    public CausalLanguageModel Model { get; } = model;

    /// <summary>The folder it was loaded from (real path), if any.</summary>
    public string? Folder { get; } = folder;

    /// <summary>Its name (the folder's name).</summary>
    public string Name { get; } = name;

    /// <summary>The model as the recipe named it (the path given to loadModel): adapters record it as base_model_name_or_path.</summary>
    public string? NameOrPath { get; } = nameOrPath;

    /// <summary>The PEFT model, once <c>getPeftModel</c> or <c>loadAdapter</c> made one; null again after <c>mergeAndUnload</c>.</summary>
    public PeftModel? Peft { get; set; }

    /// <summary>The JS handle of the base model.</summary>
    public JsValue? BaseHandle { get; set; }

    /// <summary>The JS handle of the PEFT model.</summary>
    public JsValue? PeftHandle { get; set; }

    /// <summary>The tokenizer: the one given with <see cref="UseTokenizer"/>, else the model folder's (loaded on first use).</summary>
    public TextTokenizer Tokenizer(string caller)
    {
        if (_tokenizer is not null) return _tokenizer;
        if (Folder is null) throw new InvalidOperationException($"{caller}: the model has no folder to load a tokenizer from; pass {{ tokenizer: loadTokenizer(path) }}");
        return _tokenizer = TokenizerLoader.Load(Folder);
    }

    /// <summary>The tokenizer if one is known or loadable, else null.</summary>
    public TextTokenizer? TryTokenizer()
    {
        try { return _tokenizer ?? (Folder is null ? null : Tokenizer("")); }
        catch (TokenizerFormatException) { return null; }
    }

    /// <summary>The chat template given with <c>setChatTemplate</c>: used instead of the folder's, and saved with the adapters.</summary>
    public Chat.ChatTemplate? ChatTemplate { get; set; }

    /// <summary>Uses <paramref name="tokenizer"/> from now on.</summary>
    public void UseTokenizer(TextTokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>The PEFT model, or an error telling the recipe how to make one.</summary>
    public PeftModel RequirePeft(string caller) => Peft
        ?? throw new Interop.RecipeApiException($"{caller}: the model has no adapters; make a PEFT model first with getPeftModel(model, {{ method: \"lora\", … }}) or loadAdapter(model, dir)");

    /// <summary>Frees the model's tensors.</summary>
    public void Dispose() => Model.Dispose();
}
