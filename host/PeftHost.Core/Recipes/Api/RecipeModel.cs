using Jint.Native;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// A recipe's model: the host's <see cref="ModelSession"/> (model, folder, tokenizer, PEFT model) and the JS handles
/// that point at it. A base handle (<c>kind: "model"</c>) and a PEFT handle (<c>kind: "peftModel"</c>) both point
/// here, as PEFT's wrapper and the model it injects into share the same modules.
/// </summary>
internal sealed class RecipeModel(ModelSession session, string name) : IDisposable
{
    /// <summary>The model, its tokenizer and its adapters.</summary>
    public ModelSession Session { get; } = session;

    /// <summary>The model.</summary>
    public CausalLanguageModel Model => Session.Model;

    /// <summary>The folder it was loaded from (real path), if any.</summary>
    public string? Folder => Session.Folder;

    /// <summary>Its name (the folder's name).</summary>
    public string Name { get; } = name;

    /// <summary>The PEFT model, once <c>getPeftModel</c> or <c>loadAdapter</c> made one; null again after <c>mergeAndUnload</c>.</summary>
    public PeftModel? Peft => Session.Peft;

    /// <summary>The JS handle of the base model.</summary>
    public JsValue? BaseHandle { get; set; }

    /// <summary>The JS handle of the PEFT model.</summary>
    public JsValue? PeftHandle { get; set; }

    /// <summary>The tokenizer, or an error telling the recipe how to give one.</summary>
    public TextTokenizer Tokenizer(string caller) =>
        Session.Folder is null && Session.TryTokenizer() is null
            ? throw new InvalidOperationException($"{caller}: the model has no folder to load a tokenizer from; pass {{ tokenizer: loadTokenizer(path) }}")
            : Session.Tokenizer;

    /// <summary>The chat template given with <c>setChatTemplate</c>: used instead of the folder's, and saved with the adapters.</summary>
    public Chat.ChatTemplate? ChatTemplate { get; set; }

    /// <summary>The PEFT model, or an error telling the recipe how to make one.</summary>
    public PeftModel RequirePeft(string caller) => Peft
        ?? throw new Interop.RecipeApiException($"{caller}: the model has no adapters; make a PEFT model first with getPeftModel(model, {{ method: \"lora\", … }}) or loadAdapter(model, dir)");

    /// <summary>Frees the model's tensors.</summary>
    public void Dispose() => Session.Dispose();
}
