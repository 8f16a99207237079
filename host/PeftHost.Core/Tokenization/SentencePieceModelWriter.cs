using Google.Protobuf;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Writes a SentencePiece BPE <c>ModelProto</c> (the <c>tokenizer.model</c> format) with the field
/// numbers of sentencepiece_model.proto, so that SentencePiece itself and
/// <c>Microsoft.ML.Tokenizers.LlamaTokenizer</c> can load it.
/// </summary>
public static class SentencePieceModelWriter
{
    // ModelProto
    private const int PiecesField = 1, TrainerSpecField = 2, NormalizerSpecField = 3;
    // ModelProto.SentencePiece
    private const int PieceField = 1, ScoreField = 2, TypeField = 3;
    // TrainerSpec
    private const int ModelTypeField = 3, VocabSizeField = 4, ByteFallbackField = 35;
    private const int UnkIdField = 40, BosIdField = 41, EosIdField = 42, PadIdField = 43;
    private const int UnkPieceField = 45, BosPieceField = 46, EosPieceField = 47;
    private const int ModelTypeBpe = 2;
    // NormalizerSpec
    private const int NameField = 1, AddDummyPrefixField = 3, RemoveExtraWhitespacesField = 4, EscapeWhitespacesField = 5;

    /// <summary>Serializes <paramref name="pieces"/> (id = position) and <paramref name="spec"/>.</summary>
    /// <exception cref="ArgumentException">A piece is empty, or a special id is out of range.</exception>
    public static byte[] Write(IReadOnlyList<SentencePiece> pieces, SentencePieceModelSpec spec)
    {
        Validate(pieces, spec);
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        foreach (var piece in pieces)
            WritePiece(output, piece);
        WriteMessage(output, TrainerSpecField, trainer => WriteTrainerSpec(trainer, pieces, spec));
        WriteMessage(output, NormalizerSpecField, normalizer => WriteNormalizerSpec(normalizer, spec));
        output.Flush();
        return buffer.ToArray();
    }

    private static void Validate(IReadOnlyList<SentencePiece> pieces, SentencePieceModelSpec spec)
    {
        for (var id = 0; id < pieces.Count; id++)
        {
            if (string.IsNullOrEmpty(pieces[id].Piece))
                throw new ArgumentException($"piece {id} is empty; SentencePiece pieces must not be empty", nameof(pieces));
        }
        if (spec.UnkId < 0 || spec.UnkId >= pieces.Count)
            throw new ArgumentException($"unk id {spec.UnkId} is outside the {pieces.Count} pieces", nameof(spec));
        foreach (var (name, id) in new[] { ("bos", spec.BosId), ("eos", spec.EosId), ("pad", spec.PadId) })
        {
            if (id < -1 || id >= pieces.Count)
                throw new ArgumentException($"{name} id {id} is outside the {pieces.Count} pieces", nameof(spec));
        }
    }

    private static void WritePiece(CodedOutputStream output, SentencePiece piece)
    {
        var size = CodedOutputStream.ComputeTagSize(PieceField) + CodedOutputStream.ComputeStringSize(piece.Piece)
            + CodedOutputStream.ComputeTagSize(ScoreField) + CodedOutputStream.ComputeFloatSize(piece.Score)
            + CodedOutputStream.ComputeTagSize(TypeField) + CodedOutputStream.ComputeEnumSize((int)piece.Type);
        output.WriteTag(PiecesField, WireFormat.WireType.LengthDelimited);
        output.WriteLength(size);
        output.WriteTag(PieceField, WireFormat.WireType.LengthDelimited);
        output.WriteString(piece.Piece);
        output.WriteTag(ScoreField, WireFormat.WireType.Fixed32);
        output.WriteFloat(piece.Score);
        output.WriteTag(TypeField, WireFormat.WireType.Varint);
        output.WriteEnum((int)piece.Type);
    }

    private static void WriteTrainerSpec(CodedOutputStream output, IReadOnlyList<SentencePiece> pieces, SentencePieceModelSpec spec)
    {
        WriteInt32(output, ModelTypeField, ModelTypeBpe);
        WriteInt32(output, VocabSizeField, pieces.Count);
        WriteBool(output, ByteFallbackField, spec.ByteFallback);
        WriteInt32(output, UnkIdField, spec.UnkId);
        WriteInt32(output, BosIdField, spec.BosId);
        WriteInt32(output, EosIdField, spec.EosId);
        WriteInt32(output, PadIdField, spec.PadId);
        WriteString(output, UnkPieceField, pieces[spec.UnkId].Piece);
        if (spec.BosId >= 0)
            WriteString(output, BosPieceField, pieces[spec.BosId].Piece);
        if (spec.EosId >= 0)
            WriteString(output, EosPieceField, pieces[spec.EosId].Piece);
    }

    private static void WriteNormalizerSpec(CodedOutputStream output, SentencePieceModelSpec spec)
    {
        WriteString(output, NameField, spec.NormalizerName);
        WriteBool(output, AddDummyPrefixField, spec.AddDummyPrefix);
        WriteBool(output, RemoveExtraWhitespacesField, spec.RemoveExtraWhitespaces);
        WriteBool(output, EscapeWhitespacesField, spec.EscapeWhitespaces);
    }

    private static void WriteMessage(CodedOutputStream output, int field, Action<CodedOutputStream> writeBody)
    {
        using var body = new MemoryStream();
        var bodyOutput = new CodedOutputStream(body);
        writeBody(bodyOutput);
        bodyOutput.Flush();
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(body.GetBuffer(), 0, (int)body.Length));
    }

    private static void WriteInt32(CodedOutputStream output, int field, int value)
    {
        output.WriteTag(field, WireFormat.WireType.Varint);
        output.WriteInt32(value);
    }

    private static void WriteBool(CodedOutputStream output, int field, bool value)
    {
        output.WriteTag(field, WireFormat.WireType.Varint);
        output.WriteBool(value);
    }

    private static void WriteString(CodedOutputStream output, int field, string value)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteString(value);
    }
}
