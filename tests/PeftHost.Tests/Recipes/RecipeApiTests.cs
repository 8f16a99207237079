using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;

namespace PeftHost.Tests.Recipes;

/// <summary>The "peft" module's functions, through small recipes.</summary>
public sealed class RecipeApiTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    private (int Code, string Out, string Err) Ok(string source, params string[] extra) => _h.RunOk(source, extra);

    [Fact]
    public void Set_values_are_typed_by_their_defaults()
    {
        var run = Ok("""
            import { defineParams, params, log } from "peft";
            const p = defineParams({ steps: 10, lr: 1e-3, name: "run", flag: false, modules: ["q_proj"], sizes: [1, 2] });
            log(JSON.stringify(p), p === params);
            """, "--set", "steps=25", "--set", "lr=3e-4", "--set", "name=123", "--set", "flag=true", "--set", "modules=q_proj,v_proj", "--set", "sizes=[4,8]");
        Assert.Contains("""{"steps":25,"lr":0.0003,"name":"123","flag":true,"modules":["q_proj","v_proj"],"sizes":[4,8]} true""", run.Out);
    }

    [Fact]
    public void Params_holds_the_raw_values_before_defineParams_and_can_be_imported_by_other_modules()
    {
        _h.Write("lib/settings.js", """
            import { params } from "peft";
            export const describe = () => `steps=${params.steps} (${typeof params.steps})`;
            """);
        var run = Ok("""
            import { params, defineParams, log } from "peft";
            import { describe } from "./lib/settings.js";
            log("raw:", params.steps, typeof params.steps, params.mode);
            defineParams({ steps: 5, mode: "fast" });
            log("declared:", describe());
            """, "--set", "steps=7", "--set", "mode=slow");
        Assert.Contains("raw: 7 number slow", run.Out);
        Assert.Contains("declared: steps=7 (number)", run.Out);
    }

    [Fact]
    public void An_unknown_set_key_is_an_error_at_defineParams_with_a_did_you_mean()
    {
        var run = _h.Run("recipe.js", """
            import { defineParams } from "peft";

            const p = defineParams({ steps: 10, learningRate: 1e-3 });
            """, "--set", "stpes=5");
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 3, 11, "defineParams: --set stpes=5: the recipe has no parameter 'stpes'; did you mean 'steps'?");
    }

    [Fact]
    public void A_set_value_of_the_wrong_type_is_an_error()
    {
        var run = _h.Run("recipe.js", """
            import { defineParams } from "peft";
            defineParams({ steps: 10 });
            """, "--set", "steps=many");
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, 1, "--set steps=many: 'steps' is a number (default 10)");
    }

    [Fact]
    public void Table_prints_aligned_columns_and_returns_the_rows()
    {
        var run = Ok("""
            import { table, log } from "peft";
            const rows = table([{ name: "alpha", loss: 2.5 }, { name: "b", loss: 10, extra: "x" }], { title: "results" });
            log("returned", rows.length, rows[0].name);
            """);
        Assert.Contains("results\nname   loss  extra\n-----  ----  -----\nalpha   2.5\nb        10  x\n", run.Out.ReplaceLineEndings("\n"));
        Assert.Contains("returned 2 alpha", run.Out);
    }

    [Fact]
    public void Plot_writes_a_png_in_the_output_folder()
    {
        var run = Ok("""
            import { plot, log } from "peft";
            const path = plot({ train: [3, 2, 1.5, 1.2], eval: [[2, 2.1], [4, 1.4]] }, { file: "curves.png", title: "loss" });
            log("path", path);
            """);
        string png = Path.Combine(_h.Output, "curves.png");
        Assert.Contains($"path {png}", run.Out);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 1000);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }

    [Fact]
    public void Generate_is_greedy_by_default_and_matches_the_cli()
    {
        var run = Ok("""
            import { loadModel, generate, log } from "peft";
            const model = loadModel("models/stories260k");
            log("one:" + generate(model, "", { maxNewTokens: 30 }));
            const many = generate(model, ["Once upon a time", "The dog"], { maxNewTokens: 8 });
            log("many:", many.length, typeof many[0]);
            log("full:" + generate(model, "Once upon a time", { maxNewTokens: 5, returnFullText: true }));
            const a = generate(model, "Once", { doSample: true, temperature: 0.9, seed: 3, maxNewTokens: 12 });
            const b = generate(model, "Once", { doSample: true, temperature: 0.9, seed: 3, maxNewTokens: 12 });
            log("seeded:", a === b);
            """);
        Assert.Contains("one:Once upon a time, there was a little girl named Lily. She loved to play outside", run.Out);
        Assert.Contains("many: 2 string", run.Out);
        Assert.Contains("full:Once upon a time, there was", run.Out);
        Assert.Contains("seeded: true", run.Out);
    }

    [Fact]
    public void Sampling_options_without_doSample_are_an_error()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, generate } from "peft";
            const model = loadModel("models/stories260k");
            generate(model, "Once", { temperature: 0.7 });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 3, 1, "'temperature' only applies when sampling; add doSample: true");
    }

    [Fact]
    public void Tokenizer_handles_encode_and_decode()
    {
        var run = Ok("""
            import { loadTokenizer, log } from "peft";
            const tok = loadTokenizer("models/stories260k");
            const ids = tok.encode("Once upon a time", { addBos: true });
            log("bos:", ids[0] === tok.bosTokenId, "vocab:", tok.vocabSize);
            log("text:" + tok.decode(ids));
            """);
        Assert.Contains("bos: true vocab: 512", run.Out);
        Assert.Contains("text:Once upon a time", run.Out);
    }

    [Fact]
    public void A_meta_device_model_is_built_from_config_alone()
    {
        var run = Ok("""
            import { loadModel, log } from "peft";
            const m = loadModel("models/stories260k", { device: "meta" });
            log("meta:", m.device, m.parameters, m.config.hidden_size);
            """);
        Assert.Contains("meta: meta 260032 64", run.Out);
    }

    [Fact]
    public void A_lora_adapter_round_trips_through_save_and_load()
    {
        var run = Ok("""
            import { loadModel, getPeftModel, printTrainableParameters, saveAdapter, loadAdapter, generate, log } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), {
              method: "lora", r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"], initLoraWeights: false,
            });
            const line = printTrainableParameters(model);
            log("kind:", model.kind, model.adapters.join(","), model.activeAdapter, model.base.kind);
            const dir = saveAdapter(model, "adapters/a");
            const expected = generate(model, "Once upon a time", { maxNewTokens: 16 });
            const other = loadAdapter(loadModel("models/stories260k"), dir, "restored");
            log("restored:", other.adapters.join(","), generate(other, "Once upon a time", { maxNewTokens: 16 }) === expected);
            """);
        Assert.Contains("trainable params: 4,480 || all params: 264,512 || trainable%: 1.6937", run.Out);
        Assert.Contains("kind: peftModel default default model", run.Out);
        Assert.Contains("restored: restored true", run.Out);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_h.Output, "adapters", "a", "adapter_config.json")))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(_h.Output, "adapters", "a", "adapter_model.safetensors")));
    }

    [Fact]
    public void A_mistyped_lora_key_is_an_error_with_a_did_you_mean_at_the_call()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, getPeftModel } from "peft";
            const base = loadModel("models/stories260k");
            const model = getPeftModel(base, { method: "lora", r: 8, loraAlpa: 16 });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 3, 15, "TypeError: getPeftModel: unknown option 'loraAlpa' for lora; did you mean 'loraAlpha'?");
    }

    [Fact]
    public void An_unknown_method_names_the_loaded_ones()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, getPeftModel } from "peft";
            getPeftModel(loadModel("models/stories260k"), { method: "lorra", r: 8 });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, 1, "getPeftModel: ");
        Assert.Contains("did you mean 'lora'?", run.Err);
    }

    [Fact]
    public void Adapters_can_be_switched_disabled_mixed_per_row_combined_and_merged()
    {
        var run = Ok("""
            import { loadModel, getPeftModel, addAdapter, setAdapter, disableAdapter, addWeightedAdapter, mergeAndUnload, saveModel, generate, log } from "peft";
            const base = loadModel("models/stories260k");
            const cfg = { method: "lora", r: 4, targetModules: ["q_proj", "v_proj"], initLoraWeights: false };
            const model = getPeftModel(base, cfg, "a");
            addAdapter(model, "b", cfg);
            log("active:", model.activeAdapter);
            setAdapter(model, "a");
            log("active:", model.activeAdapter);
            const g = (m) => generate(m, "Once upon a time", { maxNewTokens: 12 });
            const withA = g(model);
            const plain = disableAdapter(model, () => g(model));
            const rows = generate(model, ["Once upon a time", "Once upon a time"], { maxNewTokens: 12, adapterNames: ["a", "__base__"] });
            log("rows:", rows[0] === withA, rows[1] === plain, withA !== plain);
            addWeightedAdapter(model, ["a", "b"], [0.5, 0.5], "ab", { combinationType: "linear" });
            log("adapters:", model.adapters.join(","));
            const merged = mergeAndUnload(model);
            log("merged:", merged === base, g(merged) === withA);
            saveModel(merged, "merged");
            log("reloaded:", g(loadModel("merged")) === withA);
            """);
        Assert.Contains("active: b", run.Out);
        Assert.Contains("active: a", run.Out);
        Assert.Contains("rows: true true true", run.Out);
        Assert.Contains("adapters: a,b,ab", run.Out);
        Assert.Contains("merged: true true", run.Out);
        Assert.Contains("reloaded: true", run.Out);
    }

    [Fact]
    public void A_wrong_adapter_name_lists_the_adapters()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, getPeftModel, setAdapter } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj"] }, "story");
            setAdapter(model, "stroy");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 3, 1, "setAdapter: no adapter 'stroy'; did you mean 'story'? (adapters: story)");
    }

    [Fact]
    public void A_handle_of_the_wrong_kind_is_named_in_the_error()
    {
        var run = _h.Run("recipe.js", """
            import { loadTokenizer, generate } from "peft";
            generate(loadTokenizer("models/stories260k"), "Once");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, 1, "generate: model must be a model from loadModel or getPeftModel, got a tokenizer");
    }

    [Fact]
    public void Saving_a_model_with_live_adapters_is_refused()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, getPeftModel, saveModel } from "peft";
            const model = getPeftModel(loadModel("models/stories260k"), { method: "lora", r: 4, targetModules: ["q_proj"] });
            saveModel(model, "out");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 3, 1, "saveModel: the model still has adapters (default); call mergeAndUnload(model) first");
    }

    [Fact]
    public void Quantize_with_the_nf4_plugin_keeps_the_model_generating()
    {
        var run = Ok("""
            import { loadModel, quantize, generate, log } from "peft";
            const model = loadModel("models/stories260k");
            quantize(model, "nf4", { doubleQuant: true, blockSize: 64, skipModules: ["down_proj"] });
            log("text:" + generate(model, "Once upon a time", { maxNewTokens: 8 }));
            """);
        Assert.Contains("quantized 30 linear layers to nf4 (kept in full precision: model.layers.0.mlp.down_proj", run.Err);
        Assert.Matches(@"text:\s*\S+", run.Out);
    }

    [Fact]
    public void An_unknown_quantizer_says_which_are_loaded()
    {
        var run = _h.Run("recipe.js", """
            import { loadModel, quantize } from "peft";
            quantize(loadModel("models/stories260k"), "nf5", { doubleQuant: true });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, 1, "quantize: unknown quantizer 'nf5'; did you mean 'nf4'? Available: ");
    }

    [Fact]
    public void An_unknown_event_is_an_error_with_a_did_you_mean()
    {
        var run = _h.Run("recipe.js", """
            import { on } from "peft";
            on("stpe", () => {});
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recipe.js", 2, 1, "on: unknown event 'stpe'; did you mean 'step'?");
    }

    [Fact]
    public void Console_and_log_write_to_the_output_and_warnings_to_stderr()
    {
        var run = Ok("""
            import { log, outputDir } from "peft";
            console.log("hello", 42, { a: [1, 2] });
            console.warn("careful");
            log("out:", outputDir.length > 0);
            """);
        Assert.Contains("hello 42 {\"a\":[1,2]}", run.Out);
        Assert.Contains("warning: careful", run.Err);
        Assert.Contains("out: true", run.Out);
    }

    [Fact]
    public void The_recipe_module_exports_are_reported_and_run_json_records_the_run()
    {
        var run = Ok("""
            export const answer = 42;
            """, "--set", "x=1");
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_h.Output, "run.json")))!;
        Assert.Equal("1", json["parameters"]!["x"]!.GetValue<string>());
        Assert.Contains("declares no parameters", run.Err);
    }
}
