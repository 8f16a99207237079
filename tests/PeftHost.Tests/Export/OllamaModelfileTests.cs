using System.Text.Json.Nodes;
using PeftHost.Core.Export.Gguf;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Export;

/// <summary>The Ollama Modelfile beside a model GGUF: FROM, the chat template translated where its family is known, stop tokens.</summary>
public sealed class OllamaModelfileTests
{
    /// <summary>stories260k's tokenizer with <paramref name="chatTemplate"/> in its tokenizer_config.json.</summary>
    private static void ModelFolder(string dir, string? chatTemplate)
    {
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(TestPaths.Stories260k, "tokenizer.model"), Path.Combine(dir, "tokenizer.model"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.Stories260k, "tokenizer_config.json")))!.AsObject();
        if (chatTemplate is not null) config["chat_template"] = chatTemplate;
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
    }

    [Fact]
    public void A_ChatML_template_becomes_Ollama_s_ChatML_template_with_its_stop_token()
    {
        using var dir = new TempDir();
        ModelFolder(dir["m"], "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}");
        var text = OllamaModelfile.Render("m.gguf", dir["m"]);
        Assert.StartsWith("FROM ./m.gguf\nTEMPLATE \"\"\"{{ if .System }}<|im_start|>system\n", text);
        Assert.EndsWith("PARAMETER stop \"</s>\"\nPARAMETER stop \"<|im_end|>\"\n", text);
    }

    [Fact]
    public void An_unknown_template_is_left_to_the_GGUF_and_said_so()
    {
        using var dir = new TempDir();
        ModelFolder(dir["m"], "{{ messages[0]['content'] }}");
        Assert.Contains("# The model's chat template is not one of the known families", OllamaModelfile.Render("m.gguf", dir["m"]));
    }

    [Fact]
    public void The_chat_template_goes_into_the_GGUF_metadata()
    {
        using var dir = new TempDir();
        ModelFolder(dir["m"], "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
        var metadata = GgufVocabulary.Metadata(dir["m"], 512);
        Assert.Equal("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
            metadata.Single(kv => kv.Key == "tokenizer.chat_template").Value.Value);
        Assert.Equal(1u, metadata.Single(kv => kv.Key == "tokenizer.ggml.bos_token_id").Value.Value);
        Assert.Equal(true, metadata.Single(kv => kv.Key == "tokenizer.ggml.add_bos_token").Value.Value);
    }
}
