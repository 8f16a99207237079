using System.CommandLine;
using System.Text.Json.Nodes;
using PeftHost.Cli.Commands;
using Xunit;

namespace PeftHost.Tests.Plugins;

/// <summary><c>peft plugins</c> over the fixture plugins.</summary>
[Collection(PluginTestCollection.Name)]
public sealed class PluginsCommandTests(BuiltPlugins built)
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand { PluginsCommand.Create() };
        root.Options.Add(CommonOptions.Verbose);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Json_lists_every_method_and_failed_plugin()
    {
        var (code, output, _) = Run("plugins", "--plugins", built.Root, "--json");
        Assert.Equal(0, code);
        var rows = JsonNode.Parse(output)!.AsArray().OfType<JsonObject>().ToList();
        foreach (var row in rows)
            foreach (var key in (string[])["name", "peftType", "assembly", "version", "sdkVersion", "state", "reason", "loadTimeMs"])
                Assert.True(row.ContainsKey(key), $"row {row["name"]} lacks '{key}'");
        var channel = rows.Single(r => (string?)r["name"] == "channel_scale");
        Assert.Equal(("Loaded", "ChannelScale.dll"), ((string?)channel["state"], (string?)channel["assembly"]));
        var failed = rows.Where(r => (string?)r["state"] == "Failed").Select(r => (string)r["name"]!).Order().ToArray();
        Assert.Equal(["Corrupt", "FutureSdk", "MissingDependency", "NoDll", "StaticCtorThrows"], failed);
    }

    [Fact]
    public void Table_shows_state_and_reasons()
    {
        var (code, output, _) = Run("plugins", "--plugins", built.Root);
        Assert.Equal(0, code);
        Assert.Contains("channel_scale", output);
        Assert.Contains("static init exploded", output);
        Assert.Contains("host SDK: 1.9.0", output);
    }

    [Fact]
    public void Check_names_each_call_that_hands_libtorch_a_temporary_scalar_and_exits_with_1()
    {
        // ChannelScale's forward multiplies by its gain, a double: TorchSharp wraps it in a Scalar nothing holds.
        const string call = "ChannelScale.ChannelScaleLinear.forward calls TorchSharp.torch/Tensor::op_Multiply(TorchSharp.torch/Tensor,Double)";
        var (code, output, _) = Run("plugins", "--plugins", built.ChannelScaleFolder, "--check");
        Assert.Equal(1, code);
        Assert.Contains("scalar check: 1 call hands libtorch a TorchSharp Scalar that nothing holds", output);
        Assert.Contains($"  ChannelScale.dll ({Path.Combine(built.ChannelScaleFolder, "ChannelScale.dll")}):\n    {call}\n", output.ReplaceLineEndings("\n"));

        var (jsonCode, json, _) = Run("plugins", "--plugins", built.ChannelScaleFolder, "--check", "--json");
        Assert.Equal(1, jsonCode);
        var rows = JsonNode.Parse(json)!.AsArray().OfType<JsonObject>().ToList();
        Assert.Equal([call], rows.Single(r => (string?)r["name"] == "channel_scale")["temporaryScalars"]!.AsArray().Select(c => (string)c!));
        Assert.All(rows.Where(r => (string?)r["assembly"] == "Lora.dll"), r => Assert.Empty(r["temporaryScalars"]!.AsArray()));
    }

    [Fact]
    public void Check_passes_the_bundled_plugins()
    {
        var (code, output, _) = Run("plugins", "--check");
        Assert.Equal(0, code);
        Assert.Contains("scalar check: no call hands libtorch a temporary Scalar in 6 plugin assemblies", output);
    }

    [Fact]
    public void A_missing_folder_is_a_one_line_error()
    {
        var (code, _, error) = Run("plugins", "--plugins", "/no/such/plugins");
        Assert.Equal(1, code);
        Assert.Equal("error: --plugins /no/such/plugins: folder not found", error.Trim());
    }
}
