namespace PeftHost.Core.Data;

/// <summary>
/// The dataset format a record's fields suggest, as <c>loadDataset</c> infers it when a recipe names
/// none (the dashboard's dataset preview reads files the same way).
/// </summary>
public static class DatasetFormat
{
    /// <summary>
    /// "chat" (OpenAI messages or ShareGPT conversations), "instruction" (a response field, or Alpaca's
    /// instruction/output), "text" (a text field), or null when the fields say none of these.
    /// </summary>
    public static string? Infer(IReadOnlyCollection<string> fields, FieldMapping mapping)
    {
        if (ConversationFormat.Detect(fields) is ConversationFormat.OpenAi or ConversationFormat.ShareGpt) return "chat";
        if (fields.Contains(mapping.Response) || fields.Contains("output") && fields.Contains("instruction")) return "instruction";
        if (fields.Contains(mapping.Text)) return "text";
        return null;
    }
}
