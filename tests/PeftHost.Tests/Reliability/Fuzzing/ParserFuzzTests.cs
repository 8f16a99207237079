using Xunit.Abstractions;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>
/// Parsers under attack: thousands of seeded mutations of valid files fed to each reader. Every
/// case must end in success or the reader's own named error naming the file, within the time
/// limit and without a huge allocation. A failing case is kept under
/// <c>$TMPDIR/pefthost-fuzz-failures/</c> and reproduced from (seed, index) with <see cref="FuzzRunner.Case"/>.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    /// <summary>The base seed of every run; case i of a reader is drawn from (Seed, i).</summary>
    public const int Seed = 20_261_129;

    private void Fuzz(FuzzTarget target, int cases)
    {
        var report = FuzzRunner.Run(target, cases, Seed);
        output.WriteLine(report.ToString());
        ReliabilityLog.Record("fuzz", report.ToString());
        Assert.True(report.FailureCount == 0, report.ToString());
        Assert.Equal(cases, report.Cases);
        // The mutations must reach past the first check: some cases load, most are refused.
        Assert.True(report.Refused > cases / 10, $"only {report.Refused} of {cases} refused: the mutations are too gentle");
    }

    [Fact] public void Safetensors_headers() => Fuzz(FuzzTargets.SafeTensors(), 2000);

    [Fact] public void Model_config_json() => Fuzz(FuzzTargets.ModelConfigJson(), 2000);

    [Fact] public void Adapter_config_json() => Fuzz(FuzzTargets.AdapterConfigJson(), 2000);

    [Fact] public void Adapter_weights() => Fuzz(FuzzTargets.AdapterWeights(), 1000);

    [Fact] public void Tokenizer_model() => Fuzz(FuzzTargets.TokenizerModel(), 2000);

    [Fact] public void Tokenizer_config_json() => Fuzz(FuzzTargets.TokenizerConfigJson(), 2000);

    [Fact] public void Tokenizer_json_sentencepiece_style() => Fuzz(FuzzTargets.SentencePieceTokenizerJson(), 1000);

    [Fact] public void Tokenizer_json_byte_level() => Fuzz(FuzzTargets.ByteLevelTokenizerJson(), 1000);

    [Fact] public void Llama2c_model() => Fuzz(FuzzTargets.Llama2cModel(), 2000);

    [Fact] public void Llama2c_tokenizer() => Fuzz(FuzzTargets.Llama2cTokenizer(), 2000);

    [Fact] public void Text_data() => Fuzz(DataFuzzTargets.Text(), 1000);

    [Fact] public void Jsonl_data() => Fuzz(DataFuzzTargets.Jsonl(), 1000);

    [Fact] public void Jsonl_gzip_data() => Fuzz(DataFuzzTargets.JsonlGzip(), 1000);

    [Fact] public void Csv_data() => Fuzz(DataFuzzTargets.Csv(), 1000);

    [Fact] public void Parquet_data() => Fuzz(DataFuzzTargets.Parquet(), 1000);

    [Fact] public void Gpt2_vocab_json() => Fuzz(DataFuzzTargets.Gpt2Vocab(), 1000);

    [Fact] public void Gpt2_merges_txt() => Fuzz(DataFuzzTargets.Gpt2Merges(), 1000);

    [Fact] public void Tiktoken_file() => Fuzz(DataFuzzTargets.Tiktoken(), 1000);

    [Fact] public void Shard_index_json() => Fuzz(DataFuzzTargets.ShardIndex(), 1000);
}
