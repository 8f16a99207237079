namespace PeftHost.Core.Tokenization;

/// <summary>
/// Reads the pieces of a SentencePiece <c>ModelProto</c> (<c>tokenizer.model</c>): field 1 holds one message
/// per piece with <c>piece</c> (1, string), <c>score</c> (2, float) and <c>type</c> (3, enum, NORMAL when absent).
/// Every other field is skipped by its wire type.
/// </summary>
public static class SentencePieceModelReader
{
    /// <summary>The pieces of the model in <paramref name="path"/>, in id order.</summary>
    /// <exception cref="TokenizerFormatException">The file is not a well-formed ModelProto.</exception>
    public static IReadOnlyList<SentencePiece> ReadPieces(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, $"cannot be read: {e.Message}", e);
        }
        try
        {
            var pieces = new List<SentencePiece>();
            var reader = new ProtoReader(bytes);
            while (!reader.AtEnd)
            {
                var (field, wire) = reader.Tag();
                if (field == 1 && wire == 2) pieces.Add(ReadPiece(new ProtoReader(reader.LengthDelimited())));
                else reader.Skip(wire);
            }
            if (pieces.Count == 0) throw new FormatException("it holds no pieces");
            return pieces;
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw new TokenizerFormatException(path, $"is not a SentencePiece model: {e.Message}", e);
        }
    }

    private static SentencePiece ReadPiece(ProtoReader reader)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.Tag();
            switch (field, wire)
            {
                case (1, 2): piece = System.Text.Encoding.UTF8.GetString(reader.LengthDelimited()); break;
                case (2, 5): score = reader.Fixed32Float(); break;
                case (3, 0): type = (SentencePieceType)reader.Varint(); break;
                default: reader.Skip(wire); break;
            }
        }
        return new SentencePiece(piece, score, type);
    }

    /// <summary>The protobuf wire format, as far as a ModelProto needs it.</summary>
    private sealed class ProtoReader(byte[] data)
    {
        private int _position;

        public bool AtEnd => _position >= data.Length;

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = data[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw new FormatException($"a varint at byte {_position} runs over 10 bytes");
        }

        public byte[] LengthDelimited()
        {
            ulong length = Varint();
            if (length > (ulong)(data.Length - _position)) throw new FormatException($"a field at byte {_position} runs past the end");
            var slice = data.AsSpan(_position, (int)length).ToArray();
            _position += (int)length;
            return slice;
        }

        public float Fixed32Float()
        {
            float value = BitConverter.ToSingle(data, _position);
            _position += 4;
            return value;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _position += 8; break;
                case 2: LengthDelimited(); break;
                case 5: _position += 4; break;
                default: throw new FormatException($"wire type {wire} at byte {_position} is not valid");
            }
            if (_position > data.Length) throw new FormatException("a field runs past the end");
        }
    }
}
