using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// Reads the parameters a recipe declares — the object literal passed to <c>defineParams({ … })</c> —
/// from its source, without running it: keys, literal defaults (numbers, strings, booleans, arrays
/// and objects of literals) and the comment on each parameter's line. A default that is not a
/// literal is kept as its source text (<see cref="RecipeParameterKind.Expression"/>).
/// </summary>
public static class RecipeParameterReader
{
    /// <summary>The declared parameters in declaration order; empty when the recipe does not call <c>defineParams</c> with an object literal.</summary>
    public static IReadOnlyList<RecipeParameter> Read(string source)
    {
        var scanner = new Scanner(source);
        if (!scanner.SeekCall("defineParams")) return [];
        var result = new List<RecipeParameter>();
        try
        {
            scanner.Expect('{');
            while (true)
            {
                scanner.SkipTrivia();
                if (scanner.TryTake('}')) break;
                string key = scanner.ReadKey();
                scanner.SkipTrivia();
                if (!scanner.TryTake(':'))
                {
                    // Shorthand ({ steps }) or a method: the default is whatever the name holds.
                    result.Add(new RecipeParameter(key, RecipeParameterKind.Expression, key, scanner.TrailingComment()));
                    scanner.TryTake(',');
                    continue;
                }
                var (kind, text) = scanner.ReadValue();
                scanner.SkipTrivia(stopAtNewline: true);
                bool comma = scanner.TryTake(',');
                string? comment = scanner.TrailingComment();
                result.Add(new RecipeParameter(key, kind, text, comment));
                if (!comma)
                {
                    scanner.SkipTrivia();
                    scanner.Expect('}');
                    break;
                }
            }
        }
        catch (FormatException)
        {
            // A literal this reader does not understand: keep what was read before it.
        }
        return result;
    }

    /// <summary>A cursor over JavaScript source that knows just enough of the grammar for object literals.</summary>
    private sealed class Scanner(string source)
    {
        private int _pos;

        public bool SeekCall(string name)
        {
            while (_pos < source.Length)
            {
                SkipTrivia();
                if (_pos >= source.Length) return false;
                char c = source[_pos];
                if (c is '"' or '\'' or '`') { ReadString(); continue; }
                if (IsIdentifierStart(c))
                {
                    string word = ReadIdentifier();
                    if (word != name) continue;
                    SkipTrivia();
                    if (TryTake('('))
                    {
                        SkipTrivia();
                        if (Peek() == '{') return true;
                    }
                    continue;
                }
                _pos++;
            }
            return false;
        }

        public void SkipTrivia(bool stopAtNewline = false)
        {
            while (_pos < source.Length)
            {
                char c = source[_pos];
                if (c == '\n' && stopAtNewline) return;
                if (char.IsWhiteSpace(c)) { _pos++; continue; }
                if (c == '/' && Peek(1) == '/')
                {
                    if (stopAtNewline) return;
                    while (_pos < source.Length && source[_pos] != '\n') _pos++;
                    continue;
                }
                if (c == '/' && Peek(1) == '*')
                {
                    int end = source.IndexOf("*/", _pos + 2, StringComparison.Ordinal);
                    _pos = end < 0 ? source.Length : end + 2;
                    continue;
                }
                return;
            }
        }

        /// <summary>A <c>// comment</c> on the rest of the current line, consumed; null when the line ends without one.</summary>
        public string? TrailingComment()
        {
            int save = _pos;
            while (_pos < source.Length && source[_pos] is ' ' or '\t') _pos++;
            if (Peek() == '/' && Peek(1) == '/')
            {
                int start = _pos + 2;
                int end = source.IndexOf('\n', start);
                if (end < 0) end = source.Length;
                _pos = end;
                string text = source[start..end].Trim();
                return text.Length == 0 ? null : text;
            }
            _pos = save;
            return null;
        }

        public bool TryTake(char c)
        {
            if (Peek() != c) return false;
            _pos++;
            return true;
        }

        public void Expect(char c)
        {
            SkipTrivia();
            if (!TryTake(c)) throw new FormatException($"expected '{c}' at {_pos}");
        }

        public string ReadKey()
        {
            char c = Peek();
            if (c is '"' or '\'') return ReadString();
            if (IsIdentifierStart(c)) return ReadIdentifier();
            if (char.IsAsciiDigit(c)) return ReadNumberText();
            throw new FormatException($"unexpected '{c}' at {_pos}");
        }

        /// <summary>A value: its kind and its text as <c>--set</c> would give it.</summary>
        public (RecipeParameterKind Kind, string Text) ReadValue()
        {
            SkipTrivia();
            int start = _pos;
            var literal = TryReadLiteral();
            SkipTrivia(stopAtNewline: true);
            if (literal is not null && Peek() is ',' or '}' or '\n' or '\r' or '/' or '\0')
            {
                var described = Describe(literal);
                // A number keeps its spelling (3e-4 stays 3e-4) when --set reads that spelling back.
                string spelled = source[start.._pos].Trim().Replace("_", "");
                bool readable = double.TryParse(spelled, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
                return described.Kind == RecipeParameterKind.Number && readable ? (described.Kind, spelled) : described;
            }
            // Not a plain literal (e.g. `2 * 8`, `process.env.X`, a function call): keep its source.
            _pos = start;
            SkipExpression();
            return (RecipeParameterKind.Expression, source[start.._pos].Trim());
        }

        private static (RecipeParameterKind Kind, string Text) Describe(JsonNode? value) => value switch
        {
            null => (RecipeParameterKind.Expression, "null"),
            JsonArray a => (RecipeParameterKind.Array, a.ToJsonString()),
            JsonObject o => (RecipeParameterKind.Object, o.ToJsonString()),
            JsonValue v when v.TryGetValue(out bool b) => (RecipeParameterKind.Boolean, b ? "true" : "false"),
            JsonValue v when v.TryGetValue(out double d) => (RecipeParameterKind.Number, d.ToString("R", CultureInfo.InvariantCulture)),
            JsonValue v => (RecipeParameterKind.String, v.GetValue<string>()),
            _ => (RecipeParameterKind.Expression, value.ToJsonString()),
        };

        /// <summary>A literal as JSON; null (with the cursor moved) when the value is not one.</summary>
        private JsonNode? TryReadLiteral()
        {
            char c = Peek();
            if (c is '"' or '\'') return JsonValue.Create(ReadString());
            if (c == '`')
            {
                int save = _pos;
                string text = ReadString();
                if (source[save.._pos].Contains("${", StringComparison.Ordinal)) return null;
                return JsonValue.Create(text);
            }
            if (char.IsAsciiDigit(c) || (c is '-' or '+' or '.' && (char.IsAsciiDigit(Peek(1)) || Peek(1) == '.')))
            {
                string number = ReadNumberText();
                string plain = number.Replace("_", "");
                if (plain.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && long.TryParse(plain[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long hex))
                    return JsonValue.Create((double)hex);
                return double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? JsonValue.Create(d) : null;
            }
            if (c == '[')
            {
                _pos++;
                var array = new JsonArray();
                while (true)
                {
                    SkipTrivia();
                    if (TryTake(']')) return array;
                    var item = TryReadLiteral();
                    if (item is null) return null;
                    array.Add(item);
                    SkipTrivia();
                    if (TryTake(',')) continue;
                    if (TryTake(']')) return array;
                    return null;
                }
            }
            if (c == '{')
            {
                _pos++;
                var obj = new JsonObject();
                while (true)
                {
                    SkipTrivia();
                    if (TryTake('}')) return obj;
                    string key;
                    try { key = ReadKey(); }
                    catch (FormatException) { return null; }
                    SkipTrivia();
                    if (!TryTake(':')) return null;
                    SkipTrivia();
                    var item = TryReadLiteral();
                    if (item is null) return null;
                    obj[key] = item;
                    SkipTrivia();
                    if (TryTake(',')) continue;
                    if (TryTake('}')) return obj;
                    return null;
                }
            }
            if (IsIdentifierStart(c))
            {
                string word = ReadIdentifier();
                return word switch
                {
                    "true" => JsonValue.Create(true),
                    "false" => JsonValue.Create(false),
                    _ => null,
                };
            }
            return null;
        }

        /// <summary>Moves past an expression up to the next ',' or '}' at depth 0.</summary>
        private void SkipExpression()
        {
            int depth = 0;
            while (_pos < source.Length)
            {
                char c = source[_pos];
                if (c is '"' or '\'' or '`') { ReadString(); continue; }
                if (c == '/' && Peek(1) is '/' or '*') { SkipTrivia(); continue; }
                if (c is '(' or '[' or '{') depth++;
                else if (c is ')' or ']' or '}')
                {
                    if (depth == 0) return;
                    depth--;
                }
                else if (c == ',' && depth == 0) return;
                _pos++;
            }
        }

        private string ReadString()
        {
            char quote = source[_pos++];
            var sb = new StringBuilder();
            while (_pos < source.Length && source[_pos] != quote)
            {
                char c = source[_pos++];
                if (c == '\\' && _pos < source.Length)
                {
                    char e = source[_pos++];
                    sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => e });
                }
                else if (c == '\n' && quote != '`')
                {
                    throw new FormatException("unterminated string");
                }
                else
                {
                    sb.Append(c);
                }
            }
            if (_pos >= source.Length) throw new FormatException("unterminated string");
            _pos++;
            return sb.ToString();
        }

        private string ReadIdentifier()
        {
            int start = _pos;
            while (_pos < source.Length && (char.IsLetterOrDigit(source[_pos]) || source[_pos] is '_' or '$')) _pos++;
            return source[start.._pos];
        }

        private string ReadNumberText()
        {
            int start = _pos;
            if (Peek() is '-' or '+') _pos++;
            while (_pos < source.Length)
            {
                char c = source[_pos];
                bool exponentSign = (c is '-' or '+') && _pos > start && source[_pos - 1] is 'e' or 'E' && !source[start.._pos].StartsWith("0x", StringComparison.OrdinalIgnoreCase);
                if (char.IsAsciiLetterOrDigit(c) || c is '.' or '_' || exponentSign) _pos++;
                else break;
            }
            return source[start.._pos];
        }

        private char Peek(int ahead = 0) => _pos + ahead < source.Length ? source[_pos + ahead] : '\0';

        private static bool IsIdentifierStart(char c) => char.IsLetter(c) || c is '_' or '$';
    }
}
