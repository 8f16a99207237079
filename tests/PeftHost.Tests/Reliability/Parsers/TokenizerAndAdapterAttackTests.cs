using System.Text;
using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using PeftHost.Core.Peft;
using PeftHost.Core.Tokenization;
using PeftHost.Plugins.Lora;
using PeftHost.Sdk;
using PeftHost.Tests.Reliability.Fuzzing;
using PeftHost.Tests.Reliability.Support;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Reliability.Parsers;

/// <summary>Regression cases the fuzzer found in tokenizer and adapter files, kept as named tests.</summary>
public sealed class TokenizerAndAdapterAttackTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string TokenizerFolder(string configJson)
    {
        string folder = _dir["tokenizer"];
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "tokenizer.model"), Seeds.TokenizerModel());
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), configJson);
        return folder;
    }

    [Fact]
    public void An_empty_added_token_is_refused_instead_of_looping()
    {
        // Microsoft.ML.Tokenizers loops (and allocates gigabytes) on an empty special token.
        var config = JsonNode.Parse(Seeds.TokenizerConfig())!.AsObject();
        config["added_tokens_decoder"]!["2"]!["content"] = "";
        string folder = TokenizerFolder(config.ToJsonString());

        var e = Bounded.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder).Encode("hello"), TimeSpan.FromSeconds(20));
        Assert.Equal($"{Path.Combine(folder, "tokenizer_config.json")}: \"added_tokens_decoder\".\"2\" has an empty \"content\"", e.Message);
    }

    [Fact]
    public void An_empty_added_token_in_tokenizer_json_is_refused()
    {
        string folder = _dir["json"];
        Directory.CreateDirectory(folder);
        var json = JsonNode.Parse(Seeds.SentencePieceTokenizerJson())!.AsObject();
        json["added_tokens"]![2]!["content"] = "";
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());

        var e = Bounded.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder).Encode("hello"), TimeSpan.FromSeconds(20));
        Assert.Contains("added_tokens[2] has an empty \"content\"", e.Message);
    }

    [Theory]
    [InlineData("\"bos_token\": \"\\ud800\"", "is not valid text")]
    [InlineData("\"bos_token\": \"<s>\", \"bos_token\": \"</s>\"", "bos_token")]
    public void Invalid_text_and_repeated_keys_are_format_errors(string member, string expected)
    {
        string folder = TokenizerFolder("{ " + member + " }");
        var e = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder));
        Assert.StartsWith(Path.Combine(folder, "tokenizer_config.json"), e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Invalid_utf8_in_a_tokenizer_file_is_a_format_error()
    {
        var bytes = Seeds.TokenizerConfig();
        int at = Encoding.UTF8.GetString(bytes).IndexOf("<unk>", StringComparison.Ordinal);
        bytes[at + 1] = 0xFF;
        string folder = TokenizerFolder("{}");
        File.WriteAllBytes(Path.Combine(folder, "tokenizer_config.json"), bytes);
        var e = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder));
        Assert.Contains("is not valid JSON", e.Message);
    }

    [Fact]
    public void A_token_id_beyond_the_limit_is_refused_instead_of_overflowing()
    {
        string folder = _dir["bytelevel"];
        Directory.CreateDirectory(folder);
        var json = JsonNode.Parse(Seeds.ByteLevelTokenizerJson())!.AsObject();
        json["model"]!["vocab"]!["!"] = int.MaxValue;
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
        var e = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(folder));
        Assert.Contains("model.vocab[\"!\"] is not a token id", e.Message);
    }

    private (PeftModel Peft, string Folder) Adapter(Action<JsonObject> edit)
    {
        string folder = _dir["adapter"];
        Seeds.WriteTinyLoraAdapter(folder);
        string configPath = Path.Combine(folder, AdapterFiles.ConfigFileName);
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        edit(config);
        File.WriteAllText(configPath, config.ToJsonString());
        var model = ModelLoader.CreateRandom(ModelConfig.FromJson(JsonNode.Parse(Seeds.TinyConfigJson)!.AsObject()), seed: 3);
        return (new PeftModel(model, new StaticMethodCatalog(new LoraMethod())), folder);
    }

    [Fact]
    public void An_absurd_rank_is_refused_before_allocating()
    {
        var (peft, folder) = Adapter(c => c["r"] = 2_000_006);
        var e = Bounded.Throws<ConfigException>(() => peft.LoadAdapter(folder), maxPeakGrowthMiB: 64);
        Assert.StartsWith(Path.Combine(folder, AdapterFiles.ConfigFileName) + ": r = 2000006 at 'model.layers.0.self_attn.q_proj' exceeds both of its sizes", e.Message);
        Assert.Empty(peft.Adapters);
        peft.Base.Dispose();
    }

    [Fact]
    public void Binding_errors_name_the_adapter_config_file()
    {
        var (peft, folder) = Adapter(c => c["lora_alpha"] = "sixteen");
        var e = Assert.Throws<ConfigException>(() => peft.LoadAdapter(folder));
        Assert.Equal($"{Path.Combine(folder, AdapterFiles.ConfigFileName)}: option 'lora_alpha' must be a number, got \"sixteen\"", e.Message);
        Assert.Equal("lora_alpha", e.Key);
        peft.Base.Dispose();
    }

    [Fact]
    public void A_non_string_peft_type_is_a_config_error()
    {
        var (peft, folder) = Adapter(c => c["peft_type"] = 5);
        var e = Assert.Throws<ConfigException>(() => peft.LoadAdapter(folder));
        Assert.Equal($"{Path.Combine(folder, AdapterFiles.ConfigFileName)}: 'peft_type' must be a string, got 5", e.Message);
        peft.Base.Dispose();
    }

    [Fact]
    public void A_null_pattern_means_not_given()
    {
        var (peft, folder) = Adapter(c => { c["alpha_pattern"] = null; c["rank_pattern"] = null; });
        var entry = peft.LoadAdapter(folder);
        Assert.Empty(((LoraConfig)entry.Adapter.Config).AlphaPattern);
        peft.Base.Dispose();
    }

    [Fact]
    public void Weights_that_do_not_fit_the_config_name_both_files_and_leave_no_adapter()
    {
        var (peft, folder) = Adapter(c => c["r"] = 3);
        var e = Assert.Throws<ModelFormatException>(() => peft.LoadAdapter(folder));
        Assert.StartsWith($"{Path.Combine(folder, AdapterFiles.WeightsFileName)}: does not fit the lora adapter that {Path.Combine(folder, AdapterFiles.ConfigFileName)} describes", e.Message);
        Assert.Contains("has shape [2, 32] but adapter 'default' expects [3, 32]", e.Message);
        Assert.Empty(peft.Adapters);
        Assert.DoesNotContain(peft.Base.named_modules(), m => m.name.Contains("lora_A"));
        peft.Base.Dispose();
    }
}
