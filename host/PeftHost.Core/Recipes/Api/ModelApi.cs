using PeftHost.Core.Peft;
using Jint.Native;
using PeftHost.Core.Models;
using PeftHost.Core.Quantization;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Runtime;
using PeftHost.Core.Tokenization;
using PeftHost.Sdk;
using TorchSharp;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>loadModel</c>, <c>loadTokenizer</c>, <c>quantize</c>, <c>prepareModelForKbitTraining</c>, <c>saveModel</c>.</summary>
internal static class ModelApi
{
    /// <summary>Options of <c>loadModel</c>.</summary>
    public static readonly OptionSchema LoadModelOptions = new("loadModel",
        new("dtype", OptionKind.String, "Weight dtype: \"float32\" (default), \"bfloat16\", \"float16\"."),
        new("device", OptionKind.String, "\"auto\" (default), \"cpu\", \"cuda\", \"cuda:N\", or \"meta\" (config.json only, no weights)."));

    /// <summary>Options of <c>quantize</c>.</summary>
    public static readonly OptionSchema QuantizeOptions = new("quantize",
        new("doubleQuant", OptionKind.Boolean, "Quantize the absmax values again (QLoRA's double quantization; default true for nf4 and fp4; int8 has none)."),
        new("blockSize", OptionKind.Integer, "Elements per absmax block (default 64; nf4 and fp4 — int8 scales each row)."),
        new("computeDtype", OptionKind.String, "The dtype layers compute in after dequantizing (default \"float32\")."),
        new("skipModules", OptionKind.StringArray, "Linear layers to keep in full precision, by name or path (lm_head always is)."));

    /// <summary>Options of <c>prepareModelForKbitTraining</c>.</summary>
    public static readonly OptionSchema KbitOptions = new("prepareModelForKbitTraining",
        new OptionSpec("useGradientCheckpointing", OptionKind.Boolean, "Recompute activations in the backward pass (default true)."));

    /// <summary>Options of <c>saveModel</c>.</summary>
    public static readonly OptionSchema SaveModelOptions = new("saveModel",
        new("dtype", OptionKind.String, "Dtype to save the weights in (default: the model's). On a quantized model, saves plain dequantized weights in this dtype instead of the bitsandbytes layout."),
        new("maxShardSize", OptionKind.Integer, "Largest safetensors shard in bytes (default 5 GiB)."));

    private static readonly string[] TokenizerFiles =
        ["tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "chat_template.jinja"];

    /// <summary>Adds the functions.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("loadModel", s.Function("loadModel", 2, values =>
        {
            var args = new ApiArguments("loadModel", values).AtMost(2, "(path, { dtype, device })");
            string path = args.String(0, "path");
            var options = LoadModelOptions.Read(args[1]);
            var dtype = DeviceSelector.ParseDtype(options.String("dtype", "float32"));
            var device = DeviceSelector.Resolve(options.String("device", "auto"));
            string folder = s.Paths.ResolveFolder(path, "loadModel");
            // A quantized folder (bitsandbytes layout) loads with the quantizers the plugins provide.
            var model = s.Job("loadModel", _ => ModelLoader.Load(folder, dtype, device, s.Host.Quantizers));
            var recipeModel = s.Handles.Own(new RecipeModel(new ModelSession(model, folder, nameOrPath: path), Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))));
            string quantized = QuantizedLayers.ConfigOf(model) is { } qc ? $", {qc.QuantType} quantized" : "";
            s.Notice($"loaded {recipeModel.Name}: {model.Config.NumHiddenLayers} layers, hidden {model.Config.HiddenSize}, {DeviceSelector.DtypeName(dtype)}{quantized} on {model.Device}");
            return ModelHandles.Base(s, recipeModel);
        }));

        api.Add("loadTokenizer", s.Function("loadTokenizer", 1, values =>
        {
            var args = new ApiArguments("loadTokenizer", values).AtMost(1, "(path)");
            string folder = s.Paths.ResolveFolder(args.String(0, "path"), "loadTokenizer");
            var tokenizer = s.Job("loadTokenizer", _ => TokenizerLoader.Load(folder));
            s.TokenizerFolders.AddOrUpdate(tokenizer, folder);
            return ModelHandles.Tokenizer(s, tokenizer);
        }));

        api.Add("quantize", s.Function("quantize", 3, values =>
        {
            var args = new ApiArguments("quantize", values).AtMost(3, "(model, type, { doubleQuant, blockSize, computeDtype })");
            var model = ExpectModel(s, args[0], "quantize");
            string type = args.String(1, "type");
            var options = QuantizeOptions.Read(args[2]);
            var quantizer = s.Host.Quantizers.Resolve(type);
            if (model.Peft is { Adapters.Count: > 0 }) throw new RecipeApiException("quantize: quantize the base model before adding adapters");
            var q = new QuantizationOptions(options.Int("blockSize", 64), options.Bool("doubleQuant", BnbQuantizationConfig.HasDoubleQuant(type)),
                DeviceSelector.ParseDtype(options.String("computeDtype", "float32")));
            var skip = options.Strings("skipModules");
            var done = s.Job("quantize", _ => ModelQuantizer.Quantize(model.Model, quantizer, q, skip));
            s.Notice($"quantized {done.Paths.Count} linear layers to {type}" + (done.Skipped.Count == 0 ? "" : $" (kept in full precision: {string.Join(", ", done.Skipped)})"));
            return args[0];
        }));

        api.Add("prepareModelForKbitTraining", s.Function("prepareModelForKbitTraining", 2, values =>
        {
            var args = new ApiArguments("prepareModelForKbitTraining", values).AtMost(2, "(model, { useGradientCheckpointing })");
            var model = ExpectModel(s, args[0], "prepareModelForKbitTraining");
            if (model.Peft is { Adapters.Count: > 0 }) throw new RecipeApiException("prepareModelForKbitTraining: prepare the base model before adding adapters");
            bool checkpointing = KbitOptions.Read(args[1]).Bool("useGradientCheckpointing", true);
            var prepared = s.Job("prepareModelForKbitTraining", _ => KbitTraining.Prepare(model.Model, checkpointing));
            s.Notice($"prepared for k-bit training: {prepared.CastToFloat32.Count} parameters cast to float32" +
                (prepared.GradientCheckpointing ? ", gradient checkpointing on" : ""));
            return args[0];
        }));

        api.Add("saveModel", s.Function("saveModel", 3, values =>
        {
            var args = new ApiArguments("saveModel", values).AtMost(3, "(model, dir, { dtype, maxShardSize })");
            var model = ExpectModel(s, args[0], "saveModel");
            string dir = s.Paths.Resolve(args.String(1, "dir"), PathAccess.Write, "saveModel");
            var options = SaveModelOptions.Read(args[2]);
            if (model.Peft is { Adapters.Count: > 0 } peft)
                throw new RecipeApiException($"saveModel: the model still has adapters ({string.Join(", ", peft.Adapters.Select(a => a.Name))}); " +
                    "call mergeAndUnload(model) first to save a plain model, or saveAdapter(model, dir) to save the adapters");
            var dtype = options.String("dtype") is { } d ? DeviceSelector.ParseDtype(d) : (torch.ScalarType?)null;
            long shard = options.Long("maxShardSize") ?? Checkpoints.CheckpointWriter.DefaultMaxShardBytes;
            s.Job("saveModel", _ =>
            {
                ModelLoader.Save(model.Model, dir, dtype, shard);
                CopyTokenizerFiles(model.Folder, dir);
                return 0;
            });
            s.Notice($"saved model to {dir}");
            return new JsString(dir);
        }));
    }

    /// <summary>The model behind a base or PEFT handle.</summary>
    public static RecipeModel ExpectModel(RecipeSession s, JsValue value, string caller, string parameter = "model") =>
        s.Handles.Expect<RecipeModel>(value, caller, parameter, "a model from loadModel or getPeftModel");

    /// <summary>Copies the tokenizer files of <paramref name="from"/> (a model folder) into <paramref name="to"/>.</summary>
    internal static void CopyTokenizerFiles(string? from, string to)
    {
        if (from is null) return;
        foreach (var name in TokenizerFiles.Concat(Directory.GetFiles(from, "*.tiktoken").Select(Path.GetFileName)!))
        {
            string source = Path.Combine(from, name!);
            // Through a temporary file, like every file PeftHost writes: a failed copy leaves the previous one intact.
            if (File.Exists(source))
                IO.AtomicFile.Write(Path.Combine(to, name!), target => { using var input = File.OpenRead(source); input.CopyTo(target); });
        }
    }
}
