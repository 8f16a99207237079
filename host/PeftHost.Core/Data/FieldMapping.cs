namespace PeftHost.Core.Data;

/// <summary>Which field of a record holds what: the text, the prompt (and its optional input), the response, the label.</summary>
public sealed record FieldMapping
{
    /// <summary>The text of causal-LM and classification data.</summary>
    public string Text { get; init; } = "text";

    /// <summary>The instruction or user message.</summary>
    public string Prompt { get; init; } = "prompt";

    /// <summary>Optional extra context for the prompt (Alpaca's "input"); absent or empty means none.</summary>
    public string? Input { get; init; } = "input";

    /// <summary>The response the model learns to produce.</summary>
    public string Response { get; init; } = "response";

    /// <summary>The class label of classification data.</summary>
    public string Label { get; init; } = "label";

    /// <summary>Alpaca's field names: instruction, input, output.</summary>
    public static FieldMapping Alpaca { get; } = new() { Prompt = "instruction", Input = "input", Response = "output" };
}
