using System.CommandLine;
using PeftHost.Core.Runtime;

namespace PeftHost.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
public static class CommonOptions
{
    /// <summary>Show stack traces on failure.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Show stack traces on failure",
        Recursive = true,
    };

    /// <summary>A model folder in Hugging Face layout.</summary>
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model folder in Hugging Face layout (config.json, model.safetensors, tokenizer files)",
        Required = true,
    };

    /// <summary>auto, cpu, cuda, cuda:N.</summary>
    public static Option<string> Device() => new Option<string>("--device")
    {
        Description = "Where to run: auto, cpu, cuda, cuda:N",
        DefaultValueFactory = _ => "auto",
    }.Check(DeviceSelector.CheckComputeDevice);

    /// <summary>Weight dtype to load into.</summary>
    public static Option<string> Dtype() => new Option<string>("--dtype")
    {
        Description = "Weight dtype: float32, bfloat16, float16",
        DefaultValueFactory = _ => "float32",
    }.Check(name => DeviceSelector.ParseDtype(name));

    /// <summary>A dtype that, when not given, the command takes from the model's config.</summary>
    public static Option<string?> DtypeOrConfig(string description) => new Option<string?>("--dtype")
    {
        Description = description,
    }.Check(name => DeviceSelector.ParseDtype(name!));

    /// <summary>A PEFT adapter folder applied (unmerged) on top of the model.</summary>
    public static Option<string?> Adapter() => new("--adapter", "-a")
    {
        Description = "PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to apply, unmerged",
    };

    /// <summary>libtorch intra-op threads.</summary>
    public static Option<int> Threads() => new Option<int>("--threads")
    {
        Description = "libtorch threads (0 = libtorch's default)",
        DefaultValueFactory = _ => 0,
    }.NonNegative();
}
