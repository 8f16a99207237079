using System.Text;
using System.Text.RegularExpressions;

namespace PeftHost.Core.Chat.Jinja;

internal enum TokenType
{
    Text, NumericLiteral, StringLiteral, Identifier, Equals, OpenParen, CloseParen, OpenStatement, CloseStatement,
    OpenExpression, CloseExpression, OpenSquareBracket, CloseSquareBracket, OpenCurlyBracket, CloseCurlyBracket,
    Comma, Dot, Colon, Pipe, AdditiveBinaryOperator, MultiplicativeBinaryOperator, ExponentiationBinaryOperator,
    ComparisonBinaryOperator, UnaryOperator, Comment,
}

/// <summary>A token and the template line it starts on.</summary>
internal sealed record JinjaToken(TokenType Type, string Value, int Line)
{
    public string Value { get; set; } = Value;
}

/// <summary>
/// Splits a template into tokens the way the reference renderer does, including its preprocessing: one trailing
/// newline dropped, <c>lstrip_blocks</c> and <c>trim_blocks</c> (transformers renders chat templates with both on),
/// <c>{% generation %}</c> markers removed, and <c>{%-</c>/<c>-%}</c> whitespace control. Tokens keep the line
/// they had in the original source, so errors point at what the author wrote.
/// </summary>
internal static class JinjaLexer
{
    private static readonly (string Text, TokenType Type)[] Symbols =
    [
        ("{%", TokenType.OpenStatement), ("%}", TokenType.CloseStatement), ("{{", TokenType.OpenExpression),
        ("}}", TokenType.CloseExpression), ("(", TokenType.OpenParen), (")", TokenType.CloseParen),
        ("{", TokenType.OpenCurlyBracket), ("}", TokenType.CloseCurlyBracket), ("[", TokenType.OpenSquareBracket),
        ("]", TokenType.CloseSquareBracket), (",", TokenType.Comma), (".", TokenType.Dot), (":", TokenType.Colon),
        ("|", TokenType.Pipe), ("<=", TokenType.ComparisonBinaryOperator), (">=", TokenType.ComparisonBinaryOperator),
        ("==", TokenType.ComparisonBinaryOperator), ("!=", TokenType.ComparisonBinaryOperator),
        ("<", TokenType.ComparisonBinaryOperator), (">", TokenType.ComparisonBinaryOperator),
        ("+", TokenType.AdditiveBinaryOperator), ("-", TokenType.AdditiveBinaryOperator), ("~", TokenType.AdditiveBinaryOperator),
        ("**", TokenType.ExponentiationBinaryOperator), ("*", TokenType.MultiplicativeBinaryOperator),
        ("//", TokenType.MultiplicativeBinaryOperator), ("/", TokenType.MultiplicativeBinaryOperator),
        ("%", TokenType.MultiplicativeBinaryOperator), ("=", TokenType.Equals),
    ];

    public static List<JinjaToken> Tokenize(string source)
    {
        var (src, origin) = Preprocess(source);
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < source.Length; i++) if (source[i] == '\n') lineStarts.Add(i + 1);
        int LineAt(int position)
        {
            var original = position < origin.Count ? origin[position] : source.Length;
            var index = lineStarts.BinarySearch(original);
            return (index >= 0 ? index : ~index - 1) + 1;
        }

        var tokens = new List<JinjaToken>();
        var pos = 0;
        var curlyDepth = 0;
        char At(int i) => i < src.Length ? src[i] : '\0';
        JinjaException Error(string reason) => new(reason, LineAt(Math.Min(pos, src.Length)));

        string ConsumeWhile(Func<char, bool> predicate)
        {
            var b = new StringBuilder();
            while (pos < src.Length && predicate(src[pos]))
            {
                if (src[pos] == '\\')
                {
                    if (++pos >= src.Length) throw Error("unexpected end of template inside a string");
                    var escaped = src[pos++];
                    if (escaped is 'x' or 'u')
                    {
                        var length = escaped == 'x' ? 2 : 4;
                        var hex = pos + length <= src.Length ? src.Substring(pos, length) : src[pos..];
                        if (hex.Length != length || !hex.All(char.IsAsciiHexDigit))
                            throw Error($"invalid escape \\{escaped}{hex}");
                        b.Append((char)Convert.ToInt32(hex, 16));
                        pos += length;
                        continue;
                    }
                    b.Append(escaped switch
                    {
                        'n' => '\n', 't' => '\t', 'r' => '\r', 'b' => '\b', 'f' => '\f', 'v' => '\v',
                        '\'' => '\'', '"' => '"', '\\' => '\\',
                        _ => throw Error($"unknown escape \\{escaped}"),
                    });
                    continue;
                }
                b.Append(src[pos++]);
                if (pos >= src.Length) throw Error("unexpected end of template inside a tag");
            }
            return b.ToString();
        }

        void StripTrailingWhitespace()
        {
            if (tokens.Count > 0 && tokens[^1].Type == TokenType.Text)
            {
                tokens[^1].Value = JsText.TrimEnd(tokens[^1].Value);
                if (tokens[^1].Value.Length == 0) tokens.RemoveAt(tokens.Count - 1);
            }
        }

        void SkipLeadingWhitespace()
        {
            while (pos < src.Length && JsText.IsWhiteSpace(src[pos])) pos++;
        }

        while (pos < src.Length)
        {
            var last = tokens.Count > 0 ? tokens[^1].Type : (TokenType?)null;
            if (last is null or TokenType.CloseStatement or TokenType.CloseExpression or TokenType.Comment)
            {
                var start = pos;
                while (pos < src.Length && !(src[pos] == '{' && At(pos + 1) is '%' or '{' or '#')) pos++;
                if (pos > start)
                {
                    tokens.Add(new JinjaToken(TokenType.Text, src[start..pos], LineAt(start)));
                    continue;
                }
            }

            if (src[pos] == '{' && At(pos + 1) == '#')
            {
                var line = LineAt(pos);
                pos += 2;
                var stripBefore = At(pos) == '-';
                if (stripBefore) pos++;
                var start = pos;
                while (At(pos) != '#' || At(pos + 1) != '}')
                {
                    if (pos + 2 >= src.Length) throw Error("a comment {# is not closed with #}");
                    pos++;
                }
                var comment = src[start..pos];
                var stripAfter = comment.EndsWith('-');
                if (stripAfter) comment = comment[..^1];
                if (stripBefore) StripTrailingWhitespace();
                tokens.Add(new JinjaToken(TokenType.Comment, comment, line));
                pos += 2;
                if (stripAfter) SkipLeadingWhitespace();
                continue;
            }

            if (string.CompareOrdinal(src, pos, "{%-", 0, 3) == 0)
            {
                StripTrailingWhitespace();
                tokens.Add(new JinjaToken(TokenType.OpenStatement, "{%", LineAt(pos)));
                pos += 3;
                continue;
            }
            if (string.CompareOrdinal(src, pos, "{{-", 0, 3) == 0)
            {
                StripTrailingWhitespace();
                tokens.Add(new JinjaToken(TokenType.OpenExpression, "{{", LineAt(pos)));
                curlyDepth = 0;
                pos += 3;
                continue;
            }

            ConsumeWhile(JsText.IsWhiteSpace);

            if (string.CompareOrdinal(src, pos, "-%}", 0, 3) == 0)
            {
                tokens.Add(new JinjaToken(TokenType.CloseStatement, "%}", LineAt(pos)));
                pos += 3;
                SkipLeadingWhitespace();
                continue;
            }
            if (string.CompareOrdinal(src, pos, "-}}", 0, 3) == 0)
            {
                tokens.Add(new JinjaToken(TokenType.CloseExpression, "}}", LineAt(pos)));
                pos += 3;
                SkipLeadingWhitespace();
                continue;
            }

            var c = At(pos);
            var tokenLine = LineAt(pos);
            if (c is '-' or '+')
            {
                var previous = tokens.Count > 0 ? tokens[^1].Type : (TokenType?)null;
                if (previous is null or TokenType.Text)
                    throw Error($"unexpected character '{c}'");
                if (previous is not (TokenType.Identifier or TokenType.NumericLiteral or TokenType.StringLiteral
                    or TokenType.CloseParen or TokenType.CloseSquareBracket))
                {
                    pos++;
                    var number = ConsumeWhile(char.IsAsciiDigit);
                    if (number.Length > 0 && At(pos) == '.' && char.IsAsciiDigit(At(pos + 1)))
                    {
                        pos++;
                        number = number + "." + ConsumeWhile(char.IsAsciiDigit);
                    }
                    tokens.Add(new JinjaToken(number.Length > 0 ? TokenType.NumericLiteral : TokenType.UnaryOperator, c + number, tokenLine));
                    continue;
                }
            }

            var matched = false;
            foreach (var (text, type) in Symbols)
            {
                if (text == "}}" && curlyDepth > 0) continue;
                if (string.CompareOrdinal(src, pos, text, 0, text.Length) != 0 || pos + text.Length > src.Length) continue;
                tokens.Add(new JinjaToken(type, text, tokenLine));
                if (type == TokenType.OpenExpression) curlyDepth = 0;
                else if (type == TokenType.OpenCurlyBracket) curlyDepth++;
                else if (type == TokenType.CloseCurlyBracket) curlyDepth--;
                pos += text.Length;
                matched = true;
                break;
            }
            if (matched) continue;

            if (c is '\'' or '"')
            {
                pos++;
                var text = ConsumeWhile(ch => ch != c);
                tokens.Add(new JinjaToken(TokenType.StringLiteral, text, tokenLine));
                pos++;
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                var number = ConsumeWhile(char.IsAsciiDigit);
                // After a '.', digits are an index (`x.0.1`), not a fraction.
                var afterDot = tokens.Count > 0 && tokens[^1].Type == TokenType.Dot;
                if (!afterDot && At(pos) == '.' && char.IsAsciiDigit(At(pos + 1)))
                {
                    pos++;
                    number = number + "." + ConsumeWhile(char.IsAsciiDigit);
                }
                tokens.Add(new JinjaToken(TokenType.NumericLiteral, number, tokenLine));
                continue;
            }
            if (JsText.IsWordChar(c))
            {
                tokens.Add(new JinjaToken(TokenType.Identifier, ConsumeWhile(JsText.IsWordChar), tokenLine));
                continue;
            }
            throw Error($"unexpected character '{c}'");
        }
        return tokens;
    }

    private static readonly Regex LstripBlocks = new(@"^[ \t]*(?=\{[#%-])", RegexOptions.Multiline);
    private static readonly Regex TrimBlocks = new(@"(?<=[#%-]\})\n");
    private static readonly Regex GenerationTag = new(@"(\s*)\{%(-?)\s*(?:end)?generation\s*(-?)%\}(\s*)", RegexOptions.Singleline);

    /// <summary>
    /// The reference's preprocessing, as deletions only; returns the text and, per remaining character, its offset in
    /// the original source (for line numbers).
    /// </summary>
    private static (string Text, List<int> Origin) Preprocess(string template)
    {
        var text = template;
        var origin = Enumerable.Range(0, template.Length).ToList();
        void Delete(IEnumerable<(int Start, int Length)> ranges)
        {
            var b = new StringBuilder(text.Length);
            var kept = new List<int>(text.Length);
            var at = 0;
            foreach (var (start, length) in ranges.OrderBy(r => r.Start))
            {
                for (var i = at; i < start; i++) { b.Append(text[i]); kept.Add(origin[i]); }
                at = Math.Max(at, start + length);
            }
            for (var i = at; i < text.Length; i++) { b.Append(text[i]); kept.Add(origin[i]); }
            text = b.ToString();
            origin = kept;
        }

        if (text.EndsWith('\n')) Delete([(text.Length - 1, 1)]);
        Delete(LstripBlocks.Matches(text).Select(m => (m.Index, m.Length)).ToList());
        Delete(TrimBlocks.Matches(text).Select(m => (m.Index, m.Length)).ToList());
        Delete(GenerationTag.Matches(text).SelectMany(m =>
        {
            // The tag goes; the whitespace around it goes only on the side with a '-'.
            var ranges = new List<(int, int)> { (m.Groups[1].Index + m.Groups[1].Length, m.Groups[4].Index - (m.Groups[1].Index + m.Groups[1].Length)) };
            if (m.Groups[2].Length > 0) ranges.Add((m.Groups[1].Index, m.Groups[1].Length));
            if (m.Groups[3].Length > 0) ranges.Add((m.Groups[4].Index, m.Groups[4].Length));
            return ranges;
        }).ToList());
        return (text, origin);
    }
}
