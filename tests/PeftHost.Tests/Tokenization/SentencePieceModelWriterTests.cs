using Google.Protobuf;
using PeftHost.Core.Tokenization;
using Xunit;

namespace PeftHost.Tests.Tokenization;

public sealed class SentencePieceModelWriterTests
{
    private static readonly SentencePiece[] Pieces =
    [
        new("<unk>", 0, SentencePieceType.Unknown),
        new("<s>", 0, SentencePieceType.Control),
        new("</s>", 0, SentencePieceType.Control),
        new("<0x41>", 0, SentencePieceType.Byte),
        new("▁a", -1.5f, SentencePieceType.Normal),
    ];

    [Fact]
    public void Fields_follow_sentencepiece_model_proto()
    {
        var bytes = SentencePieceModelWriter.Write(Pieces, new SentencePieceModelSpec { UnkId = 0, BosId = 1, EosId = 2, PadId = -1 });

        var model = ReadFields(bytes);
        var pieces = model[1].Select(p => ReadFields(((ByteString)p).ToByteArray())).ToList();
        var trainer = ReadFields(((ByteString)model[2].Single()).ToByteArray());
        var normalizer = ReadFields(((ByteString)model[3].Single()).ToByteArray());

        Assert.Equal(5, pieces.Count);
        Assert.Equal("▁a", ((ByteString)pieces[4][1].Single()).ToStringUtf8());
        Assert.Equal(-1.5f, BitConverter.UInt32BitsToSingle((uint)pieces[4][2].Single()));
        Assert.Equal([2ul, 3ul, 3ul, 6ul, 1ul], pieces.Select(p => (ulong)p[3].Single()));
        Assert.Equal(2ul, trainer[3].Single());    // model_type BPE
        Assert.Equal(5ul, trainer[4].Single());    // vocab_size
        Assert.Equal(1ul, trainer[35].Single());   // byte_fallback
        Assert.Equal(0ul, trainer[40].Single());   // unk_id
        Assert.Equal(1ul, trainer[41].Single());   // bos_id
        Assert.Equal(2ul, trainer[42].Single());   // eos_id
        Assert.Equal(-1, (int)(ulong)trainer[43].Single()); // pad_id
        Assert.Equal("identity", ((ByteString)normalizer[1].Single()).ToStringUtf8());
        Assert.Equal(1ul, normalizer[3].Single()); // add_dummy_prefix
        Assert.Equal(0ul, normalizer[4].Single()); // remove_extra_whitespaces
        Assert.Equal(1ul, normalizer[5].Single()); // escape_whitespaces
    }

    [Fact]
    public void Empty_pieces_and_out_of_range_ids_are_refused()
    {
        Assert.Throws<ArgumentException>(() => SentencePieceModelWriter.Write([.. Pieces, new SentencePiece("", 0, SentencePieceType.Normal)], new SentencePieceModelSpec()));
        Assert.Throws<ArgumentException>(() => SentencePieceModelWriter.Write(Pieces, new SentencePieceModelSpec { EosId = 5 }));
    }

    /// <summary>Field number → values: varints as ulong, fixed32 as uint, length-delimited as ByteString.</summary>
    private static Dictionary<int, List<object>> ReadFields(byte[] message)
    {
        var fields = new Dictionary<int, List<object>>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            object value = WireFormat.GetTagWireType(tag) switch
            {
                WireFormat.WireType.Varint => input.ReadUInt64(),
                WireFormat.WireType.Fixed32 => input.ReadFixed32(),
                WireFormat.WireType.LengthDelimited => input.ReadBytes(),
                var other => throw new InvalidDataException($"unexpected wire type {other}"),
            };
            var number = WireFormat.GetTagFieldNumber(tag);
            if (!fields.TryGetValue(number, out var values))
                fields[number] = values = [];
            values.Add(value);
        }
        return fields;
    }
}
