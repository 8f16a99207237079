using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Plugins.Lora;
using PeftHost.Tests.Cli;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Export;

/// <summary><c>peft export gguf</c> on bad input: one line naming the problem, exit 1 (2 for usage), and no file left behind.</summary>
public sealed class GgufExportCliTests
{
    private static (int Code, string Out, string Err) Export(params string[] args) => CliTests.Run(["export", "gguf", "--model", TestPaths.Stories260k, .. args]);

    private static void AssertOneLineFailure((int Code, string Out, string Err) run, int code, string mentions)
    {
        Assert.Equal(code, run.Code);
        var first = run.Err.Split('\n')[0];
        Assert.StartsWith("error: ", first);
        Assert.Contains(mentions, first);
    }

    private static void AssertNothingWritten(string folder) =>
        Assert.Empty(Directory.Exists(folder) ? Directory.GetFileSystemEntries(folder) : []);

    [Fact]
    public void An_unknown_type_is_a_usage_error_naming_the_option_and_the_types()
    {
        using var dir = new TempDir();
        var run = Export("--out", dir["out/m.gguf"], "--type", "q5_k");
        AssertOneLineFailure(run, 2, "--type: unknown GGUF type 'q5_k'; expected one of f32, f16, bf16, q8_0, q4_0");
        AssertNothingWritten(dir["out"]);
    }

    [Fact]
    public void Merge_without_an_adapter_is_a_usage_error()
    {
        using var dir = new TempDir();
        AssertOneLineFailure(Export("--merge", "--out", dir["m.gguf"]), 2, "--merge needs --adapter");
    }

    [Fact]
    public void An_unwritable_output_fails_with_its_path_and_leaves_no_file()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a-file"], "");
        AssertOneLineFailure(Export("--out", dir["a-file/m.gguf"]), 1, dir["a-file/m.gguf"] + ": cannot be written");
        Directory.CreateDirectory(dir["a-folder"]);
        AssertOneLineFailure(Export("--out", dir["a-folder"]), 1, dir["a-folder"] + ": cannot be written");
        AssertNothingWritten(dir["a-folder"]);
    }

    [Fact]
    public void An_adapter_for_another_base_is_refused_unmerged_and_merged_and_no_file_is_left()
    {
        using var dir = new TempDir();
        // A LoRA adapter made on a model with other widths than stories260k.
        using (var other = TinyModels.Create())
        {
            var peft = new PeftModel(other, new StaticMethodCatalog(new LoraMethod()));
            peft.AddAdapter("lora", new JsonObject { ["r"] = 4, ["targetModules"] = new JsonArray("q_proj", "v_proj") });
            peft.SaveAdapter(dir["adapter"]);
        }
        Directory.CreateDirectory(dir["out"]);
        var unmerged = Export("--adapter", dir["adapter"], "--out", dir["out/lora.gguf"]);
        AssertOneLineFailure(unmerged, 1, "model.layers.0.self_attn.q_proj has lora_A [4, 32] and lora_B [32, 4], which do not fit the base weight [64, 64]; is it an adapter for another base?");
        var merged = Export("--adapter", dir["adapter"], "--merge", "--out", dir["out/merged.gguf"]);
        Assert.Equal(1, merged.Code);
        Assert.StartsWith("error: ", merged.Err);
        AssertNothingWritten(dir["out"]);
    }

    [Theory]
    [InlineData("use_dora", "DoRA magnitude vectors (use_dora)")]
    [InlineData("modules_to_save", "modules_to_save (lm_head)")]
    [InlineData("bias", "trained biases (bias = \"all\")")]
    [InlineData("peft_type", "a IA3 adapter")]
    public void What_a_llama_cpp_LoRA_cannot_hold_is_refused_by_name_offering_merge(string key, string named)
    {
        using var dir = new TempDir();
        GgufLoraExportTests.SaveSeededAdapter(dir["adapter"]);
        var configPath = Path.Combine(dir["adapter"], AdapterFiles.ConfigFileName);
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config[key] = key switch
        {
            "use_dora" => true,
            "modules_to_save" => new JsonArray("lm_head"),
            "bias" => "all",
            _ => "IA3",
        };
        File.WriteAllText(configPath, config.ToJsonString());
        var run = Export("--adapter", dir["adapter"], "--out", dir["out/lora.gguf"]);
        AssertOneLineFailure(run, 1, named);
        Assert.Contains("--merge", run.Err.Split('\n')[0]);
        AssertNothingWritten(dir["out"]);
    }
}
