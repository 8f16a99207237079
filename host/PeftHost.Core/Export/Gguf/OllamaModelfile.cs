using PeftHost.Core.IO;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Export.Gguf;

/// <summary>
/// The Ollama <c>Modelfile</c> written beside a model GGUF (<c>NAME.Modelfile</c> for <c>NAME.gguf</c>), so that
/// <c>ollama create NAME -f NAME.Modelfile</c> works without editing: <c>FROM</c> the GGUF, a <c>TEMPLATE</c> when the
/// model's chat template is one of the families whose Ollama form is known (ChatML, Llama 3 headers, Llama 2 [INST]),
/// and a <c>PARAMETER stop</c> per end-of-sequence token. Another Jinja template is not translated: Ollama then uses the
/// GGUF's <c>tokenizer.chat_template</c> where it recognises it, and the Modelfile says so in a comment.
/// </summary>
public static class OllamaModelfile
{
    /// <summary>The Modelfile path for <paramref name="ggufPath"/>.</summary>
    public static string PathFor(string ggufPath) => Path.ChangeExtension(ggufPath, ".Modelfile");

    /// <summary>Writes the Modelfile for the model GGUF <paramref name="ggufPath"/> exported from <paramref name="modelDir"/>.</summary>
    public static string Write(string ggufPath, string modelDir)
    {
        string path = PathFor(ggufPath);
        AtomicFile.WriteAllText(path, Render(Path.GetFileName(ggufPath), modelDir));
        return path;
    }

    /// <summary>The Modelfile text for <paramref name="ggufFileName"/> (relative: the Modelfile lies beside it).</summary>
    public static string Render(string ggufFileName, string modelDir)
    {
        var tokenizer = TokenizerLoader.Load(modelDir);
        var lines = new List<string> { $"FROM ./{ggufFileName}" };
        var stops = tokenizer.EosTokenIds.Select(id => tokenizer.Decode([id], skipSpecialTokens: false)).Where(s => s.Length > 0).ToList();
        switch (GgufVocabulary.ChatTemplate(modelDir))
        {
            case null:
                break;
            case var t when t.Contains("<|im_start|>", StringComparison.Ordinal):
                lines.Add(Template("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n"));
                stops.Add("<|im_end|>");
                break;
            case var t when t.Contains("<|start_header_id|>", StringComparison.Ordinal):
                lines.Add(Template("{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>"));
                stops.Add("<|eot_id|>");
                break;
            case var t when t.Contains("[INST]", StringComparison.Ordinal):
                lines.Add(Template("[INST] {{ if .System }}<<SYS>>\n{{ .System }}\n<</SYS>>\n\n{{ end }}{{ .Prompt }} [/INST] {{ .Response }}"));
                break;
            default:
                lines.Add("# The model's chat template is not one of the known families (ChatML, Llama 3, Llama 2); it is in the GGUF as tokenizer.chat_template.");
                break;
        }
        foreach (var stop in stops.Distinct()) lines.Add($"PARAMETER stop \"{stop.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        return string.Join('\n', lines) + "\n";
    }

    private static string Template(string template) => $"TEMPLATE \"\"\"{template}\"\"\"";
}
