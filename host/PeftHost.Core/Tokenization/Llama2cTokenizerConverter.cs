using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Converts a llama2.c tokenizer (<c>tok512.bin</c>, <c>tokenizer.bin</c>) into a Hugging Face
/// SentencePiece tokenizer folder: <c>tokenizer.model</c>, <c>tokenizer_config.json</c> and
/// <c>special_tokens_map.json</c>.
/// </summary>
/// <remarks>
/// The llama2.c layout is an int32 <c>max_token_length</c>, then per token a float32 score, an int32
/// byte length and the UTF-8 bytes. Id 0 is <c>&lt;unk&gt;</c>, 1 <c>&lt;s&gt;</c>, 2 <c>&lt;/s&gt;</c>,
/// 3..258 the byte-fallback pieces <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>, the rest SentencePiece
/// BPE pieces whose ▁ (U+2581) was exported as a plain space.
/// </remarks>
public static class Llama2cTokenizerConverter
{
    private const int UnkId = 0, BosId = 1, EosId = 2, FirstByteId = 3, ByteCount = 256;
    private const string UnkPiece = "<unk>", BosPiece = "<s>", EosPiece = "</s>";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The smallest vocabulary the layout allows: three specials and 256 byte pieces.</summary>
    public const int MinVocabSize = FirstByteId + ByteCount;

    /// <summary>
    /// Converts <paramref name="tokBinPath"/> and writes the three tokenizer files into
    /// <paramref name="outDir"/> (created if missing); each file is written to a temporary name and
    /// then renamed, so a reader never sees half a file.
    /// </summary>
    /// <param name="tokBinPath">The llama2.c tokenizer file.</param>
    /// <param name="vocabSize">Number of tokens in it (the model's vocab_size; the file does not say).</param>
    /// <param name="outDir">The folder to write into.</param>
    /// <param name="modelMaxLength">The <c>model_max_length</c> written to tokenizer_config.json.</param>
    /// <exception cref="TokenizerFormatException">The file is missing, truncated or malformed.</exception>
    public static void Convert(string tokBinPath, int vocabSize, string outDir, int modelMaxLength = 2048)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modelMaxLength, 1);
        var model = BuildModelProto(tokBinPath, vocabSize);
        IO.WriteConfinement.CreateDirectory(outDir);
        IO.AtomicFile.Write(Path.Combine(outDir, "tokenizer.model"), stream => stream.Write(model));
        IO.AtomicFile.WriteAllText(Path.Combine(outDir, "tokenizer_config.json"), TokenizerConfigJson(modelMaxLength));
        IO.AtomicFile.WriteAllText(Path.Combine(outDir, "special_tokens_map.json"), SpecialTokensMapJson());
    }

    /// <summary>Converts <paramref name="tokBinPath"/> into <c>tokenizer.model</c> bytes, in memory.</summary>
    /// <exception cref="TokenizerFormatException">The file is missing, truncated or malformed.</exception>
    public static byte[] BuildModelProto(string tokBinPath, int vocabSize)
        => BuildModelProto(ReadFile(tokBinPath), vocabSize, tokBinPath);

    /// <summary>Converts the bytes of a llama2.c tokenizer into <c>tokenizer.model</c> bytes.</summary>
    /// <param name="tokBin">The llama2.c tokenizer file's content.</param>
    /// <param name="vocabSize">Number of tokens in it.</param>
    /// <param name="sourceName">The name errors start with (usually the file path).</param>
    /// <exception cref="TokenizerFormatException">The data is truncated or malformed.</exception>
    public static byte[] BuildModelProto(ReadOnlySpan<byte> tokBin, int vocabSize, string sourceName)
        => SentencePieceModelWriter.Write(ReadPieces(tokBin, vocabSize, sourceName), new SentencePieceModelSpec
        {
            UnkId = UnkId,
            BosId = BosId,
            EosId = EosId,
            PadId = -1,
            ByteFallback = true,
            AddDummyPrefix = true,
            RemoveExtraWhitespaces = false,
            EscapeWhitespaces = true,
        });

    /// <summary>Reads the pieces of a llama2.c tokenizer, typed and with ▁ restored.</summary>
    /// <exception cref="TokenizerFormatException">The data is truncated or malformed.</exception>
    public static IReadOnlyList<SentencePiece> ReadPieces(ReadOnlySpan<byte> tokBin, int vocabSize, string sourceName)
    {
        if (vocabSize < MinVocabSize)
            throw new TokenizerFormatException(sourceName, $"a vocabulary of {vocabSize} tokens was asked for, but a llama2.c tokenizer holds at least {MinVocabSize} (3 specials and 256 byte pieces)");
        if (tokBin.Length < sizeof(int))
            throw new TokenizerFormatException(sourceName, $"truncated: {tokBin.Length} bytes, too short for the max_token_length header");
        var maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(tokBin);
        if (maxTokenLength <= 0)
            throw new TokenizerFormatException(sourceName, $"max_token_length {maxTokenLength} is not positive");

        // Sized by what the data can hold (a token takes at least 9 bytes), not by the size asked for.
        var pieces = new List<SentencePiece>(Math.Min(vocabSize, (tokBin.Length - sizeof(int)) / 9 + 1));
        var idOfPiece = new Dictionary<string, int>(pieces.Capacity, StringComparer.Ordinal);
        var offset = sizeof(int);
        for (var id = 0; id < vocabSize; id++)
        {
            if (tokBin.Length - offset < 2 * sizeof(int))
                throw new TokenizerFormatException(sourceName, $"truncated at token {id} of {vocabSize}: its score and length are missing (byte offset {offset})");
            var score = BinaryPrimitives.ReadSingleLittleEndian(tokBin[offset..]);
            var length = BinaryPrimitives.ReadInt32LittleEndian(tokBin[(offset + sizeof(float))..]);
            offset += 2 * sizeof(int);
            if (length <= 0 || length > maxTokenLength)
                throw new TokenizerFormatException(sourceName, $"token {id} has length {length}, outside 1..{maxTokenLength} (max_token_length)");
            if (tokBin.Length - offset < length)
                throw new TokenizerFormatException(sourceName, $"truncated at token {id} of {vocabSize}: {length} bytes expected at offset {offset}, {tokBin.Length - offset} left");
            var piece = ToPiece(id, Decode(tokBin.Slice(offset, length), id, sourceName), score, sourceName);
            if (!idOfPiece.TryAdd(piece.Piece, id))
                throw new TokenizerFormatException(sourceName, $"token {id} \"{piece.Piece}\" repeats token {idOfPiece[piece.Piece]}; SentencePiece pieces must be unique");
            pieces.Add(piece);
            offset += length;
        }
        if (offset != tokBin.Length)
            throw new TokenizerFormatException(sourceName, $"{tokBin.Length - offset} bytes follow the {vocabSize} tokens; is the vocabulary size right?");
        return pieces;
    }

    private static SentencePiece ToPiece(int id, string text, float score, string sourceName)
    {
        switch (id)
        {
            case UnkId: return new SentencePiece(UnkPiece, score, SentencePieceType.Unknown);
            case BosId: return new SentencePiece(BosPiece, score, SentencePieceType.Control);
            case EosId: return new SentencePiece(EosPiece, score, SentencePieceType.Control);
        }
        if (id < FirstByteId + ByteCount)
        {
            var expected = $"<0x{id - FirstByteId:X2}>";
            if (text != expected)
                throw new TokenizerFormatException(sourceName, $"token {id} should be the byte piece {expected} but is \"{text}\"");
            return new SentencePiece(expected, score, SentencePieceType.Byte);
        }
        return new SentencePiece(text.Replace(' ', SentencePieceStyleBpe.SpaceSymbol), score, SentencePieceType.Normal);
    }

    private static string Decode(ReadOnlySpan<byte> bytes, int id, string sourceName)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new TokenizerFormatException(sourceName, $"token {id} is not valid UTF-8", e);
        }
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
    }

    private static string TokenizerConfigJson(int modelMaxLength)
    {
        var addedTokens = new JsonObject();
        foreach (var (id, piece) in new[] { (UnkId, UnkPiece), (BosId, BosPiece), (EosId, EosPiece) })
        {
            addedTokens[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = piece,
                ["lstrip"] = false,
                ["normalized"] = false,
                ["rstrip"] = false,
                ["single_word"] = false,
                ["special"] = true,
            };
        }
        return new JsonObject
        {
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["added_tokens_decoder"] = addedTokens,
            ["bos_token"] = BosPiece,
            ["clean_up_tokenization_spaces"] = false,
            ["eos_token"] = EosPiece,
            ["model_max_length"] = modelMaxLength,
            ["pad_token"] = null,
            ["tokenizer_class"] = "LlamaTokenizer",
            ["unk_token"] = UnkPiece,
        }.ToJsonString(JsonFiles.Indented);
    }

    private static string SpecialTokensMapJson() => new JsonObject
    {
        ["bos_token"] = BosPiece,
        ["eos_token"] = EosPiece,
        ["unk_token"] = UnkPiece,
    }.ToJsonString(JsonFiles.Indented);
}
