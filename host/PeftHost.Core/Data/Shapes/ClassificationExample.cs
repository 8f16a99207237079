namespace PeftHost.Core.Data;

/// <summary>A classification item as text: the prompt and the gold label.</summary>
/// <param name="Prompt">The prompt (template filled, shortened to fit).</param>
/// <param name="Label">The gold label (a key of <see cref="ClassificationShape.LabelWords"/> or, without a map, the word itself).</param>
/// <param name="Origin">"file:line" of the record.</param>
public sealed record ClassificationExample(string Prompt, string Label, string Origin);
