using System.Text.Json;

namespace PeftHost.Core.IO;

/// <summary>Shared JSON settings.</summary>
public static class Json
{
    /// <summary>Indented output, as Hugging Face writes its JSON files.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
