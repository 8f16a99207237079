using System.Text.Json.Nodes;
using Jint;
using Jint.Native;
using PeftHost.Core.Peft;
using PeftHost.Core.Quantization;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// The PEFT-model functions: <c>getPeftModel</c>, <c>addAdapter</c>, <c>printTrainableParameters</c>,
/// <c>saveAdapter</c>, <c>loadAdapter</c>, <c>setAdapter</c>, <c>deleteAdapter</c>, <c>disableAdapter</c>,
/// <c>addWeightedAdapter</c>, <c>mergeAndUnload</c>. Method configs are checked by the method's
/// plugin (through <see cref="PeftModel.AddAdapter(string, JsonObject, string)"/>), with did-you-mean.
/// </summary>
internal static class AdapterApi
{
    /// <summary>Options of <c>saveAdapter</c>.</summary>
    public static readonly OptionSchema SaveAdapterOptions = new("saveAdapter",
        new OptionSpec("adapterNames", OptionKind.StringOrStringArray, "Which adapters to save (default: all). \"default\" goes in dir, others in dir/<name>."));

    /// <summary>Options of <c>loadAdapter</c>.</summary>
    public static readonly OptionSchema LoadAdapterOptions = new("loadAdapter",
        new OptionSpec("isTrainable", OptionKind.Boolean, "Load the adapter's parameters as trainable, to continue training (default false)."));

    /// <summary>Options of <c>addWeightedAdapter</c>.</summary>
    public static readonly OptionSchema WeightedAdapterOptions = new("addWeightedAdapter",
        new("combinationType", OptionKind.String, "How to combine: \"svd\" (default), \"linear\", \"cat\" — as the method supports."),
        new("svdRank", OptionKind.Integer, "Rank of the svd combination (default: the largest rank combined)."));

    /// <summary>Keys of a method config that the host reads itself (the rest go to the method's plugin).</summary>
    private const string MethodKey = "method";

    /// <summary>Adds the functions.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("getPeftModel", s.Function("getPeftModel", 3, values =>
        {
            var args = new ApiArguments("getPeftModel", values).AtMost(3, "(model, config, adapterName = \"default\")");
            var model = ModelApi.ExpectModel(s, args[0], "getPeftModel");
            string name = args.String(2, "adapterName", AdapterFiles.DefaultAdapterName);
            if (model.Peft is { Adapters.Count: > 0 })
                throw new RecipeApiException($"getPeftModel: the model already has adapters ({string.Join(", ", model.Peft.Adapters.Select(a => a.Name))}); add another with addAdapter(model, name, config)");
            return AddAdapter(s, model, args[1], name, "getPeftModel");
        }));

        api.Add("addAdapter", s.Function("addAdapter", 3, values =>
        {
            var args = new ApiArguments("addAdapter", values).AtMost(3, "(model, adapterName, config)");
            var model = ModelApi.ExpectModel(s, args[0], "addAdapter");
            string name = args.String(1, "adapterName");
            return AddAdapter(s, model, args[2], name, "addAdapter");
        }));

        api.Add("printTrainableParameters", s.Function("printTrainableParameters", 1, values =>
        {
            var args = new ApiArguments("printTrainableParameters", values).AtMost(1, "(model)");
            var model = ModelApi.ExpectModel(s, args[0], "printTrainableParameters");
            string line = model.Peft?.TrainableParametersLine() ?? Peft.ParameterCounter.Format(0, Peft.ParameterCounter.Count(model.Model).All);
            s.Log(line);
            return new JsString(line);
        }));

        api.Add("saveAdapter", s.Function("saveAdapter", 3, values =>
        {
            var args = new ApiArguments("saveAdapter", values).AtMost(3, "(model, dir, { adapterNames })");
            var model = ModelApi.ExpectModel(s, args[0], "saveAdapter");
            var peft = model.RequirePeft("saveAdapter");
            string dir = s.Paths.Resolve(args.String(1, "dir"), PathAccess.Write, "saveAdapter");
            var names = SaveAdapterOptions.Read(args[2]).Strings("adapterNames");
            foreach (var n in names ?? []) _ = Adapter(peft, n, "saveAdapter");
            s.Job("saveAdapter", _ =>
            {
                peft.SaveAdapter(dir, names);
                // A template set for chat training goes with the adapter, in a tokenizer folder as TRL's trainer saves one.
                if (model.ChatTemplate is { } template)
                {
                    ModelApi.CopyTokenizerFiles(model.Folder, dir);
                    template.SaveInto(dir);
                }
                return 0;
            });
            s.Notice($"saved adapter{((names?.Count ?? peft.Adapters.Count) == 1 ? "" : "s")} {string.Join(", ", names ?? peft.Adapters.Select(a => a.Name))} to {dir}");
            return new JsString(dir);
        }));

        api.Add("loadAdapter", s.Function("loadAdapter", 4, values =>
        {
            var args = new ApiArguments("loadAdapter", values).AtMost(4, "(model, dir, adapterName = \"default\", { isTrainable })");
            var model = ModelApi.ExpectModel(s, args[0], "loadAdapter");
            string dir = s.Paths.ResolveFolder(args.String(1, "dir"), "loadAdapter");
            string name = args.String(2, "adapterName", AdapterFiles.DefaultAdapterName);
            bool trainable = LoadAdapterOptions.Read(args[3]).Bool("isTrainable", false);
            AdapterJob(s, model, "loadAdapter", peft => peft.LoadAdapter(dir, name, trainable));
            s.Notice($"loaded adapter '{name}' from {dir}{(trainable ? " (trainable)" : "")}");
            return ModelHandles.Peft(s, model);
        }));

        api.Add("setAdapter", s.Function("setAdapter", 2, values =>
        {
            var args = new ApiArguments("setAdapter", values).AtMost(2, "(model, adapterName)");
            var peft = ModelApi.ExpectModel(s, args[0], "setAdapter").RequirePeft("setAdapter");
            string name = args.String(1, "adapterName");
            _ = Adapter(peft, name, "setAdapter");
            peft.SetAdapter(name);
            return JsValue.Undefined;
        }));

        api.Add("deleteAdapter", s.Function("deleteAdapter", 2, values =>
        {
            var args = new ApiArguments("deleteAdapter", values).AtMost(2, "(model, adapterName)");
            var peft = ModelApi.ExpectModel(s, args[0], "deleteAdapter").RequirePeft("deleteAdapter");
            string name = args.String(1, "adapterName");
            _ = Adapter(peft, name, "deleteAdapter");
            s.Job("deleteAdapter", _ => { peft.DeleteAdapter(name); return 0; });
            return JsValue.Undefined;
        }));

        api.Add("disableAdapter", s.Function("disableAdapter", 2, values =>
        {
            var args = new ApiArguments("disableAdapter", values).AtMost(2, "(model, fn)");
            var peft = ModelApi.ExpectModel(s, args[0], "disableAdapter").RequirePeft("disableAdapter");
            var fn = args.Callable(1, "fn");
            using (peft.DisableAdapter())
            {
                var result = fn.Call(JsValue.Undefined, []);
                if (result.IsPromise())
                    throw new RecipeApiException("disableAdapter: fn must be synchronous (the API's calls are synchronous; drop async/await inside it)");
                return result;
            }
        }));

        api.Add("addWeightedAdapter", s.Function("addWeightedAdapter", 5, values =>
        {
            var args = new ApiArguments("addWeightedAdapter", values).AtMost(5, "(model, adapters, weights, adapterName, combinationType | { combinationType, svdRank })");
            var peft = ModelApi.ExpectModel(s, args[0], "addWeightedAdapter").RequirePeft("addWeightedAdapter");
            var names = args.Strings(1, "adapters");
            var weights = args.Numbers(2, "weights");
            string newName = args.String(3, "adapterName");
            string combination = "svd";
            int? svdRank = null;
            if (args[4].IsString()) combination = args[4].AsString();
            else
            {
                var options = WeightedAdapterOptions.Read(args[4]);
                combination = options.String("combinationType", "svd");
                svdRank = options.Int("svdRank");
            }
            foreach (var n in names) _ = Adapter(peft, n, "addWeightedAdapter");
            s.Job("addWeightedAdapter", _ => peft.AddWeightedAdapter(names, weights, newName, combination, svdRank));
            s.Notice($"added '{newName}' = {string.Join(" + ", names.Zip(weights, (n, w) => $"{w:0.###}·{n}"))} ({combination})");
            return args[0];
        }));

        api.Add("mergeAndUnload", s.Function("mergeAndUnload", 1, values =>
        {
            var args = new ApiArguments("mergeAndUnload", values).AtMost(1, "(model)");
            var model = ModelApi.ExpectModel(s, args[0], "mergeAndUnload");
            var peft = model.RequirePeft("mergeAndUnload");
            string? active = peft.ActiveAdapter;
            // Into a quantized base, the merged weights are re-quantized: the output difference that
            // causes is measured and reported as a warning (PEFT warns too), never silent.
            s.Job("mergeAndUnload", _ => QuantizedMerge.MergeAndUnload(peft, warning => s.Log(warning, LogLevel.Warning)));
            model.Session.ClosePeft();
            // As in PEFT, the wrapper is spent: only the returned base model goes on.
            if (model.PeftHandle is { } spent)
                s.Handles.Retire(spent, "a PEFT model that mergeAndUnload merged and unloaded; use the model that mergeAndUnload returned");
            model.PeftHandle = null;
            s.Notice(active is null ? "unloaded the adapters" : $"merged adapter '{active}' into the base weights and unloaded the adapters");
            return ModelHandles.Base(s, model);
        }));
    }

    /// <summary>Adds adapter <paramref name="name"/> from the recipe's method config (the model becomes a PEFT model if it is not one) and returns the PEFT-model handle.</summary>
    private static JsValue AddAdapter(RecipeSession s, RecipeModel model, JsValue configValue, string name, string function)
    {
        var (method, config) = MethodConfig(configValue, function);
        AdapterJob(s, model, function, peft => peft.AddAdapter(method, config, name));
        return ModelHandles.Peft(s, model);
    }

    /// <summary>
    /// Runs <paramref name="add"/> on the model's PEFT model (made on first use, sharing the model's tokenizer with the
    /// methods, taken into the host's hot reloads); a PEFT model made for an adapter that failed is let go again.
    /// </summary>
    private static void AdapterJob(RecipeSession s, RecipeModel model, string function, Action<PeftModel> add)
    {
        bool fresh = model.Peft is null;
        var peft = model.Session.OpenPeft(s.Host.Methods, s.Host.Events, s.Host.TrackPeftModel);
        try { s.Job(function, _ => { add(peft); return true; }); }
        catch
        {
            if (fresh) model.Session.ClosePeft();
            throw;
        }
    }

    /// <summary>Checks an adapter name exists, listing those that do.</summary>
    private static AdapterEntry Adapter(PeftModel peft, string name, string caller)
    {
        if (peft.Adapters.Any(a => a.Name == name)) return peft[name];
        var names = peft.Adapters.Select(a => a.Name).ToList();
        string? hint = Sdk.KeyNames.DidYouMean(name, names);
        throw new RecipeApiException($"{caller}: no adapter '{name}'" + (hint is null ? "" : $"; did you mean '{hint}'?") +
            $" (adapters: {(names.Count == 0 ? "none" : string.Join(", ", names))})");
    }

    /// <summary>Splits a config object into its method name and the keys the method binds.</summary>
    private static (string Method, JsonObject Config) MethodConfig(JsValue value, string caller)
    {
        if (!value.IsObject() || value.IsArray() || value.IsCallable())
            throw new RecipeApiException($"{caller}: config must be an object like {{ method: \"lora\", r: 8, loraAlpha: 16, targetModules: [\"q_proj\", \"v_proj\"] }}, got {JsDescribe.Value(value)}");
        var json = (JsonObject)JsConvert.ToJson(value, $"{caller} config")!;
        var method = json[MethodKey];
        if (method is null)
            throw new RecipeApiException($"{caller}: config needs a 'method' (e.g. method: \"lora\")" +
                (json.Any(kv => kv.Key is "peftType" or "peft_type") ? "; 'peftType' is what adapter_config.json calls it — use 'method'" : ""));
        if (method.GetValueKind() != System.Text.Json.JsonValueKind.String)
            throw new RecipeApiException($"{caller}: config 'method' must be a string like \"lora\", got {method.ToJsonString()}");
        json.Remove(MethodKey);
        return (method.GetValue<string>(), json);
    }
}
