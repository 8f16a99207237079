using System.CommandLine;

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
    public static Option<string> Device() => new("--device")
    {
        Description = "Where to run: auto, cpu, cuda, cuda:N",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Weight dtype to load into.</summary>
    public static Option<string> Dtype() => new("--dtype")
    {
        Description = "Weight dtype: float32, bfloat16, float16",
        DefaultValueFactory = _ => "float32",
    };

    /// <summary>A PEFT adapter folder applied (unmerged) on top of the model.</summary>
    public static Option<string?> Adapter() => new("--adapter", "-a")
    {
        Description = "PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to apply, unmerged",
    };

    /// <summary>libtorch intra-op threads.</summary>
    public static Option<int> Threads() => new("--threads")
    {
        Description = "libtorch threads (0 = libtorch's default)",
        DefaultValueFactory = _ => 0,
    };
}
