using Jint.Native;
using PeftHost.Core.Runtime;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Creates the JS handles of models and tokenizers.</summary>
internal static class ModelHandles
{
    /// <summary>The base-model handle of <paramref name="model"/> (made once).</summary>
    public static JsValue Base(RecipeSession s, RecipeModel model) => model.BaseHandle ??= s.Handles.Create("model", model, h =>
    {
        var (_, all) = PeftHost.Core.Peft.ParameterCounter.Count(model.Model);
        h.Value("name", model.Name)
            .Value("dtype", DeviceSelector.DtypeName(model.Model.Dtype))
            .Value("device", model.Model.Device.ToString())
            .Value("parameters", all)
            .Value("config", model.Model.Config.ToJson());
    });

    /// <summary>The PEFT-model handle of <paramref name="model"/> (made once per PEFT model).</summary>
    public static JsValue Peft(RecipeSession s, RecipeModel model) => model.PeftHandle ??= s.Handles.Create("peftModel", model, h =>
    {
        h.Value("name", model.Name)
            .Value("base", Base(s, model))
            .Getter("adapters", s.Function("adapters", 0, _ =>
                Interop.JsConvert.ToJs(s.Engine, model.Peft?.Adapters.Select(a => a.Name).ToArray() ?? [])))
            .Getter("activeAdapter", s.Function("activeAdapter", 0, _ =>
                model.Peft?.ActiveAdapter is { } name ? new JsString(name) : JsValue.Null));
    });

    /// <summary>The handle of <paramref name="tokenizer"/>, with encode/decode methods.</summary>
    public static JsValue Tokenizer(RecipeSession s, TextTokenizer tokenizer) => s.Handles.Create("tokenizer", tokenizer, h =>
    {
        h.Value("type", tokenizer.Kind)
            .Value("vocabSize", tokenizer.VocabSize)
            .Value("bosTokenId", tokenizer.BosTokenId)
            .Value("eosTokenIds", tokenizer.EosTokenIds)
            .Method("encode", s.Function("encode", 2, values =>
            {
                var args = new ApiArguments("tokenizer.encode", values).AtMost(2, "(text, { addBos })");
                var options = TokenizerEncodeOptions.Read(args[1]);
                bool? addBos = options.Has("addBos") ? options.Bool("addBos", true) : null;
                return Interop.JsConvert.ToJs(s.Engine, tokenizer.Encode(args.String(0, "text"), addBos));
            }))
            .Method("decode", s.Function("decode", 2, values =>
            {
                var args = new ApiArguments("tokenizer.decode", values).AtMost(2, "(ids, { skipSpecialTokens })");
                var options = TokenizerDecodeOptions.Read(args[1]);
                var ids = args.Numbers(0, "ids").Select(d => (int)d).ToArray();
                return new JsString(tokenizer.Decode(ids, options.Bool("skipSpecialTokens", true)));
            }));
    });

    /// <summary>Options of <c>tokenizer.encode</c>.</summary>
    public static readonly Interop.OptionSchema TokenizerEncodeOptions = new("tokenizer.encode",
        new Interop.OptionSpec("addBos", Interop.OptionKind.Boolean, "Put BOS first (default: the tokenizer's add_bos_token)."));

    /// <summary>Options of <c>tokenizer.decode</c>.</summary>
    public static readonly Interop.OptionSchema TokenizerDecodeOptions = new("tokenizer.decode",
        new Interop.OptionSpec("skipSpecialTokens", Interop.OptionKind.Boolean, "Drop BOS/EOS/PAD and other special tokens (default true)."));
}
