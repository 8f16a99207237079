using System.Text;

namespace PeftHost.Core.Data;

/// <summary>
/// Reads lines (ended by <c>\n</c>, <c>\r\n</c> or <c>\r</c>, as <see cref="TextReader.ReadLine"/>) without ever
/// holding more than a line's limit: <see cref="TextReader.ReadLine"/> would build a 2 GB line whole before anyone
/// could look at its length.
/// </summary>
internal sealed class LineReader(TextReader reader, string file, DataLimits limits)
{
    private readonly char[] _buffer = new char[1 << 16];
    private readonly StringBuilder _line = new();
    private int _start, _end;

    /// <summary>Lines read so far (the 1-based number of the last one).</summary>
    public long LineNumber { get; private set; }

    /// <summary>The next line without its line break, or null at the end.</summary>
    /// <exception cref="DataFormatException">The line is longer than the limit.</exception>
    public string? ReadLine()
    {
        _line.Clear();
        bool any = false;
        while (true)
        {
            if (_start == _end && !Fill()) return any ? Finish() : null;
            any = true;
            int found = _buffer.AsSpan(_start, _end - _start).IndexOfAny('\n', '\r');
            int stop = found < 0 ? -1 : _start + found;
            int take = (stop < 0 ? _end : stop) - _start;
            if (_line.Length + (long)take > limits.MaxRecordChars) throw limits.RecordTooLong(file, LineNumber + 1);
            _line.Append(_buffer, _start, take);
            _start += take;
            if (stop < 0) continue;
            bool carriageReturn = _buffer[_start++] == '\r';
            if (carriageReturn && (_start < _end || Fill()) && _buffer[_start] == '\n') _start++;
            return Finish();
        }
    }

    /// <summary>Everything left, as one record.</summary>
    /// <exception cref="DataFormatException">It is longer than the limit.</exception>
    public string ReadToEnd()
    {
        _line.Clear();
        while (_start < _end || Fill())
        {
            if (_line.Length + (long)(_end - _start) > limits.MaxRecordChars) throw limits.RecordTooLong(file, 0);
            _line.Append(_buffer, _start, _end - _start);
            _start = _end;
        }
        return _line.ToString();
    }

    private string Finish()
    {
        LineNumber++;
        return _line.ToString();
    }

    private bool Fill()
    {
        _start = 0;
        _end = reader.Read(_buffer, 0, _buffer.Length);
        return _end > 0;
    }
}
