using System.Text.Json.Nodes;
using PeftHost.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Import;

/// <summary>The header of a llama2.c "legacy v0" checkpoint: seven int32s.</summary>
/// <param name="Dim">Model width.</param>
/// <param name="HiddenDim">SwiGLU hidden width.</param>
/// <param name="Layers">Decoder layers.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads.</param>
/// <param name="VocabSize">Vocabulary size (the file stores it negated when the classifier is not shared).</param>
/// <param name="MaxSeqLen">Context length.</param>
public sealed record Llama2cHeader(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, int MaxSeqLen)
{
    /// <summary>Whether lm_head shares the embedding matrix.</summary>
    public bool SharedClassifier { get; init; } = true;

    /// <summary>Per-head width.</summary>
    public int HeadDim => Dim / Heads;

    /// <summary>The equivalent Hugging Face <c>config.json</c>.</summary>
    public ModelConfig ToModelConfig() => ModelConfig.FromJson(new JsonObject
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = Dim,
        ["intermediate_size"] = HiddenDim,
        ["num_hidden_layers"] = Layers,
        ["num_attention_heads"] = Heads,
        ["num_key_value_heads"] = KvHeads,
        ["vocab_size"] = VocabSize,
        ["max_position_embeddings"] = MaxSeqLen,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = SharedClassifier,
        ["hidden_act"] = "silu",
        ["bos_token_id"] = 1,
        ["eos_token_id"] = 2,
        ["torch_dtype"] = "float32",
    }, "llama2.c header");
}

/// <summary>
/// Reads llama2.c checkpoints and maps them to Hugging Face names. llama2.c's RoPE rotates
/// adjacent pairs (2i, 2i+1) while Hugging Face rotates halves, so the rows of wq and wk are
/// permuted (the same permutation Hugging Face's LLaMA converter applies).
/// </summary>
public static class Llama2cCheckpoint
{
    private const int HeaderBytes = 7 * sizeof(int);

    /// <summary>Reads and validates the header of <paramref name="path"/> against the file's size.</summary>
    public static Llama2cHeader ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "file not found");
        long length = new FileInfo(path).Length;
        if (length < HeaderBytes) throw new ModelFormatException(path, $"too short for a llama2.c header ({length} bytes)");
        var ints = new int[7];
        using (var fs = File.OpenRead(path))
        {
            var buffer = new byte[HeaderBytes];
            fs.ReadExactly(buffer);
            Buffer.BlockCopy(buffer, 0, ints, 0, HeaderBytes);
        }
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len"];
        for (int i = 0; i < 7; i++)
        {
            bool ok = i == 5 ? ints[i] != 0 && ints[i] != int.MinValue : ints[i] > 0;
            if (!ok || Math.Abs((long)ints[i]) > 1 << 24) throw new ModelFormatException(path, $"header field {names[i]} = {ints[i]} is out of range");
        }
        var header = new Llama2cHeader(ints[0], ints[1], ints[2], ints[3], ints[4], Math.Abs(ints[5]), ints[6]) { SharedClassifier = ints[5] > 0 };
        if (header.Dim % header.Heads != 0 || header.HeadDim % 2 != 0)
            throw new ModelFormatException(path, $"dim {header.Dim} is not a multiple of 2 × n_heads {header.Heads}");
        if (header.Heads % header.KvHeads != 0)
            throw new ModelFormatException(path, $"n_kv_heads {header.KvHeads} does not divide n_heads {header.Heads}");
        long expected;
        try { expected = ExpectedBytes(header); }
        catch (OverflowException) { throw new ModelFormatException(path, $"the header describes a model of more than {long.MaxValue} bytes (dim {header.Dim}, hidden_dim {header.HiddenDim}, n_layers {header.Layers}, vocab_size {header.VocabSize})"); }
        if (length != expected)
            throw new ModelFormatException(path, $"file has {length} bytes, but a llama2.c v0 checkpoint with this header has {expected}");
        return header;
    }

    /// <summary>Reads all weights of <paramref name="path"/> as a Hugging Face state dict (fp32, CPU).</summary>
    public static (Llama2cHeader Header, Dictionary<string, Tensor> State) Read(string path)
    {
        var h = ReadHeader(path);
        int kvDim = h.KvHeads * h.HeadDim;
        var state = new Dictionary<string, Tensor>();
        using var fs = File.OpenRead(path);
        fs.Seek(HeaderBytes, SeekOrigin.Begin);
        Tensor Next(params long[] shape) => ReadFloats(fs, shape);

        var embedding = Next(h.VocabSize, h.Dim);
        state["model.embed_tokens.weight"] = embedding;
        PerLayer(state, Next(h.Layers, h.Dim), "input_layernorm.weight");
        PerLayer(state, Next(h.Layers, h.Dim, h.Dim), "self_attn.q_proj.weight", w => PermuteForRotateHalf(w, h.Heads));
        PerLayer(state, Next(h.Layers, kvDim, h.Dim), "self_attn.k_proj.weight", w => PermuteForRotateHalf(w, h.KvHeads));
        PerLayer(state, Next(h.Layers, kvDim, h.Dim), "self_attn.v_proj.weight");
        PerLayer(state, Next(h.Layers, h.Dim, h.Dim), "self_attn.o_proj.weight");
        PerLayer(state, Next(h.Layers, h.Dim), "post_attention_layernorm.weight");
        PerLayer(state, Next(h.Layers, h.HiddenDim, h.Dim), "mlp.gate_proj.weight");
        PerLayer(state, Next(h.Layers, h.Dim, h.HiddenDim), "mlp.down_proj.weight");
        PerLayer(state, Next(h.Layers, h.HiddenDim, h.Dim), "mlp.up_proj.weight");
        state["model.norm.weight"] = Next(h.Dim);
        // The legacy format then stores RoPE tables (freq_cis_real/imag), which the HF model recomputes.
        fs.Seek((long)h.MaxSeqLen * h.HeadDim * sizeof(float), SeekOrigin.Current);
        if (!h.SharedClassifier) state["lm_head.weight"] = Next(h.VocabSize, h.Dim);
        return (h, state);
    }

    /// <summary>
    /// Reorders the rows of a q or k projection [heads·head_dim, in] from interleaved pairs
    /// to halves within each head: row (h, 2i + j) moves to (h, j·head_dim/2 + i).
    /// </summary>
    public static Tensor PermuteForRotateHalf(Tensor weight, int heads)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        return weight.view(heads, rows / heads / 2, 2, cols).transpose(1, 2).reshape(rows, cols);
    }

    /// <summary>The file size the header implies; checked, so that a hostile header cannot wrap around to the real size.</summary>
    private static long ExpectedBytes(Llama2cHeader h)
    {
        checked
        {
            long kvDim = (long)h.KvHeads * h.HeadDim;
            long floats = (long)h.VocabSize * h.Dim
                + (long)h.Layers * (h.Dim + 2L * h.Dim * h.Dim + 2L * kvDim * h.Dim + h.Dim + 3L * h.HiddenDim * h.Dim)
                + h.Dim
                + (long)h.MaxSeqLen * h.HeadDim; // freq_cis real + imag: 2 × seq × head_dim/2
            if (!h.SharedClassifier) floats += (long)h.VocabSize * h.Dim;
            return HeaderBytes + floats * sizeof(float);
        }
    }

    private static void PerLayer(Dictionary<string, Tensor> state, Tensor stacked, string suffix, Func<Tensor, Tensor>? transform = null)
    {
        for (int i = 0; i < stacked.shape[0]; i++)
        {
            var slice = stacked[i].clone();
            state[$"model.layers.{i}.{suffix}"] = transform is null ? slice : transform(slice);
        }
        stacked.Dispose();
    }

    private static Tensor ReadFloats(Stream stream, long[] shape)
    {
        var t = empty(shape, ScalarType.Float32);
        Checkpoints.TensorBytes.ReadInto(t, stream);
        return t;
    }
}
