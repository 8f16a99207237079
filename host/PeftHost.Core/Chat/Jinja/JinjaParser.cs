using System.Globalization;

namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// Builds the syntax tree from tokens with the reference renderer's grammar and operator precedence (which differs
/// from Python Jinja in places, e.g. a filter binds tighter than a unary minus). Nesting is bounded so a hostile
/// template cannot exhaust the stack.
/// </summary>
internal sealed class JinjaParser
{
    /// <summary>The deepest nesting of blocks and sub-expressions a template may have.</summary>
    public const int MaxNesting = 200;

    private readonly List<JinjaToken> _tokens;
    private int _current;
    private int _depth;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static TemplateBody Parse(List<JinjaToken> tokens)
    {
        var parser = new JinjaParser(tokens);
        var body = new List<Node>();
        while (parser._current < tokens.Count) body.Add(parser.ParseAny());
        return new TemplateBody(body);
    }

    private JinjaToken? Peek(int offset = 0) => _current + offset < _tokens.Count ? _tokens[_current + offset] : null;

    private int Line => (Peek() ?? (_tokens.Count > 0 ? _tokens[^1] : null))?.Line ?? 1;

    private JinjaException Error(string reason) => new(reason, Line);

    private JinjaToken Next() => Peek() is { } t ? _tokens[_current++] : throw Error("unexpected end of template");

    private JinjaToken Expect(TokenType type, string what)
    {
        var token = Peek() ?? throw Error($"unexpected end of template, expected {what}");
        if (token.Type != type) throw Error($"expected {what}, found {Describe(token)}");
        _current++;
        return token;
    }

    private static string Describe(JinjaToken t) => t.Type switch
    {
        TokenType.Text => "text",
        TokenType.StringLiteral => $"the string '{t.Value}'",
        _ => $"'{t.Value}'",
    };

    private bool Is(params TokenType[] types)
    {
        for (var i = 0; i < types.Length; i++)
            if (Peek(i)?.Type != types[i]) return false;
        return true;
    }

    private bool IsIdentifier(params string[] names)
    {
        for (var i = 0; i < names.Length; i++)
            if (Peek(i) is not { Type: TokenType.Identifier } t || t.Value != names[i]) return false;
        return true;
    }

    private bool IsStatement(params string[] names) =>
        Peek()?.Type == TokenType.OpenStatement && Peek(1) is { Type: TokenType.Identifier } t && names.Contains(t.Value);

    private void ExpectIdentifier(string name)
    {
        if (!IsIdentifier(name)) throw Error($"expected '{name}'");
        _current++;
    }

    private T Nested<T>(Func<T> parse)
    {
        if (++_depth > MaxNesting) throw Error($"the template nests deeper than {MaxNesting} levels");
        try { return parse(); }
        finally { _depth--; }
    }

    /// <summary>Statements up to one of <paramref name="ends"/>; an unclosed block is reported at its opening line.</summary>
    private List<Node> ParseBlockUntil(string blockName, int openLine, params string[] ends)
    {
        var body = new List<Node>();
        while (!IsStatement(ends))
        {
            if (Peek() is null)
                throw new JinjaException($"'{blockName}' is not closed: expected {string.Join(" or ", ends.Select(e => "{% " + e + " %}"))}", openLine);
            body.Add(ParseAny());
        }
        return body;
    }

    private Node ParseAny() => Nested<Node>(() =>
    {
        var token = Peek()!;
        switch (token.Type)
        {
            case TokenType.Comment: _current++; return new CommentNode(token.Line);
            case TokenType.Text: _current++; return new StringLiteral(token.Line, token.Value);
            case TokenType.OpenStatement: return ParseStatement();
            case TokenType.OpenExpression:
            {
                _current++;
                var expression = ParseExpression();
                Expect(TokenType.CloseExpression, "'}}'");
                return expression;
            }
            default: throw Error($"unexpected {Describe(token)}");
        }
    });

    private Node ParseStatement()
    {
        Expect(TokenType.OpenStatement, "'{%'");
        var keyword = Peek() is { Type: TokenType.Identifier } k ? k : throw Error($"expected a statement name after '{{%'");
        var line = keyword.Line;
        _current++;
        switch (keyword.Value)
        {
            case "set": return ParseSet(line);
            case "if":
            {
                var node = ParseIf(line);
                CloseBlock("endif");
                return node;
            }
            case "macro":
            {
                var name = ParsePrimary() as IdentifierNode ?? throw Error("expected the macro's name after 'macro'");
                var parameters = ParseArguments(parameters: true);
                Expect(TokenType.CloseStatement, "'%}'");
                var body = ParseBlockUntil("macro", line, "endmacro");
                CloseBlock("endmacro");
                return new MacroNode(line, name.Name, parameters, body);
            }
            case "for":
            {
                var node = ParseFor(line);
                CloseBlock("endfor");
                return node;
            }
            case "call":
            {
                var callerParameters = Is(TokenType.OpenParen) ? ParseArguments(parameters: true) : [];
                var callee = ParsePrimary() as IdentifierNode ?? throw Error("expected a macro name after 'call'");
                var call = new CallNode(callee.Line, callee, ParseArguments(parameters: false));
                Expect(TokenType.CloseStatement, "'%}'");
                var body = ParseBlockUntil("call", line, "endcall");
                CloseBlock("endcall");
                return new CallBlockNode(line, call, callerParameters, body);
            }
            case "break":
                Expect(TokenType.CloseStatement, "'%}'");
                return new BreakNode(line);
            case "continue":
                Expect(TokenType.CloseStatement, "'%}'");
                return new ContinueNode(line);
            case "filter":
            {
                var filter = ParsePrimary();
                if (filter is IdentifierNode && Is(TokenType.OpenParen)) filter = ParseCall(filter);
                Expect(TokenType.CloseStatement, "'%}'");
                var body = ParseBlockUntil("filter", line, "endfilter");
                CloseBlock("endfilter");
                return new FilterBlockNode(line, filter, body);
            }
            default:
                throw new JinjaException($"unknown statement '{keyword.Value}'", line);
        }
    }

    private void CloseBlock(string end)
    {
        Expect(TokenType.OpenStatement, $"'{{% {end} %}}'");
        ExpectIdentifier(end);
        Expect(TokenType.CloseStatement, "'%}'");
    }

    private Node ParseSet(int line)
    {
        var target = ParseExpressionSequence(primary: false);
        if (Is(TokenType.Equals))
        {
            _current++;
            var value = ParseExpressionSequence(primary: false);
            Expect(TokenType.CloseStatement, "'%}'");
            return new SetNode(line, target, value, []);
        }
        Expect(TokenType.CloseStatement, "'=' or '%}'");
        var body = ParseBlockUntil("set", line, "endset");
        Expect(TokenType.OpenStatement, "'{%'");
        ExpectIdentifier("endset");
        Expect(TokenType.CloseStatement, "'%}'");
        return new SetNode(line, target, null, body);
    }

    private IfNode ParseIf(int line)
    {
        var test = ParseExpression();
        Expect(TokenType.CloseStatement, "'%}'");
        var body = ParseBlockUntil("if", line, "elif", "else", "endif");
        var alternate = new List<Node>();
        if (IsStatement("elif"))
        {
            var elifLine = Peek(1)!.Line;
            _current += 2;
            alternate.Add(Nested(() => ParseIf(elifLine)));
        }
        else if (IsStatement("else"))
        {
            _current += 2;
            Expect(TokenType.CloseStatement, "'%}'");
            alternate = ParseBlockUntil("if", line, "endif");
        }
        return new IfNode(line, test, body, alternate);
    }

    private ForNode ParseFor(int line)
    {
        var variable = ParseExpressionSequence(primary: true);
        if (variable is not (IdentifierNode or TupleLiteral)) throw Error("expected a loop variable name after 'for'");
        if (!IsIdentifier("in")) throw Error("expected 'in' after the loop variable");
        _current++;
        var iterable = ParseExpression();
        Expect(TokenType.CloseStatement, "'%}'");
        var body = ParseBlockUntil("for", line, "endfor", "else");
        var otherwise = new List<Node>();
        if (IsStatement("else"))
        {
            _current += 2;
            Expect(TokenType.CloseStatement, "'%}'");
            otherwise = ParseBlockUntil("for", line, "endfor");
        }
        return new ForNode(line, variable, iterable, body, otherwise);
    }

    private Node ParseExpressionSequence(bool primary)
    {
        var line = Line;
        var first = primary ? ParsePrimary() : ParseExpression();
        if (!Is(TokenType.Comma)) return first;
        var items = new List<Node> { first };
        while (true)
        {
            _current++;
            items.Add(primary ? ParsePrimary() : ParseExpression());
            if (!Is(TokenType.Comma)) break;
        }
        return new TupleLiteral(line, items);
    }

    private Node ParseExpression() => Nested(ParseIfExpression);

    private Node ParseIfExpression()
    {
        var value = ParseOr();
        if (!IsIdentifier("if")) return value;
        var line = Peek()!.Line;
        _current++;
        var test = ParseOr();
        if (!IsIdentifier("else")) return new SelectNode(line, value, test);
        _current++;
        var otherwise = Nested(ParseIfExpression);
        return new TernaryNode(line, test, value, otherwise);
    }

    private Node ParseOr()
    {
        var left = ParseAnd();
        while (IsIdentifier("or"))
        {
            var line = Next().Line;
            left = new BinaryNode(line, "or", left, ParseAnd());
        }
        return left;
    }

    private Node ParseAnd()
    {
        var left = ParseNot();
        while (IsIdentifier("and"))
        {
            var line = Next().Line;
            left = new BinaryNode(line, "and", left, ParseNot());
        }
        return left;
    }

    private Node ParseNot()
    {
        if (!IsIdentifier("not")) return ParseComparison();
        var line = Next().Line;
        return new UnaryNode(line, "not", Nested(ParseNot));
    }

    private Node ParseComparison()
    {
        var left = ParseAdditive();
        while (true)
        {
            string op;
            var line = Line;
            if (IsIdentifier("not", "in")) { op = "not in"; _current += 2; }
            else if (IsIdentifier("in")) { op = "in"; _current++; }
            else if (Is(TokenType.ComparisonBinaryOperator)) op = Next().Value;
            else break;
            left = new BinaryNode(line, op, left, ParseAdditive());
        }
        return left;
    }

    private Node ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Is(TokenType.AdditiveBinaryOperator))
        {
            var op = Next();
            left = new BinaryNode(op.Line, op.Value, left, ParseMultiplicative());
        }
        return left;
    }

    private Node ParseMultiplicative()
    {
        var left = ParsePower();
        while (Is(TokenType.MultiplicativeBinaryOperator))
        {
            var op = Next();
            left = new BinaryNode(op.Line, op.Value, left, ParsePower());
        }
        return left;
    }

    private Node ParsePower()
    {
        var left = ParseTest();
        while (Is(TokenType.ExponentiationBinaryOperator))
        {
            var op = Next();
            left = new BinaryNode(op.Line, op.Value, left, ParseTest());
        }
        return left;
    }

    private Node ParseTest()
    {
        var operand = ParseFilter();
        while (IsIdentifier("is"))
        {
            var line = Next().Line;
            var negate = IsIdentifier("not");
            if (negate) _current++;
            var test = ParsePrimary() as IdentifierNode ?? throw Error("expected a test name after 'is'");
            operand = new TestNode(line, operand, negate, test.Name);
        }
        return operand;
    }

    private Node ParseFilter()
    {
        var operand = ParseUnarySign();
        while (Is(TokenType.Pipe))
        {
            var line = Next().Line;
            Node filter = ParsePrimary() as IdentifierNode ?? throw Error("expected a filter name after '|'");
            if (Is(TokenType.OpenParen)) filter = ParseCall(filter);
            operand = new FilterNode(line, operand, filter);
        }
        return operand;
    }

    private Node ParseUnarySign()
    {
        if (Peek() is { Type: TokenType.UnaryOperator or TokenType.AdditiveBinaryOperator, Value: "-" or "+" } op)
        {
            _current++;
            return new UnaryNode(op.Line, op.Value, Nested(ParseUnarySign));
        }
        var member = ParseMember(ParsePrimary());
        return Is(TokenType.OpenParen) ? ParseCall(member) : member;
    }

    private Node ParseCall(Node callee)
    {
        Node expression = new CallNode(callee.Line, callee, ParseArguments(parameters: false));
        expression = ParseMember(expression);
        return Is(TokenType.OpenParen) ? Nested(() => ParseCall(expression)) : expression;
    }

    /// <summary>A parenthesised argument list of a call, or (parameters) the parameter list of a macro.</summary>
    private List<Node> ParseArguments(bool parameters)
    {
        Expect(TokenType.OpenParen, "'('");
        var args = new List<Node>();
        var names = new HashSet<string>();
        bool sawKeyword = false, sawSpread = false;
        while (!Is(TokenType.CloseParen))
        {
            if (Peek() is null) throw Error("unexpected end of template, expected ')'");
            var line = Line;
            var keywordSpread = Is(TokenType.ExponentiationBinaryOperator);
            var positionalSpread = Is(TokenType.MultiplicativeBinaryOperator) && Peek()!.Value == "*";
            if (parameters && (keywordSpread || positionalSpread))
                throw Error("argument unpacking is not allowed in a macro's parameters");
            if (keywordSpread)
            {
                _current++;
                args.Add(new KeywordSpreadNode(line, ParseExpression()));
                if (Is(TokenType.Comma)) _current++;
                if (!Is(TokenType.CloseParen)) throw Error("'**' must be the last argument");
                break;
            }
            Node argument;
            if (positionalSpread)
            {
                if (sawSpread) throw Error("only one '*' argument unpacking is allowed");
                sawSpread = true;
                _current++;
                argument = new SpreadNode(line, ParseExpression());
            }
            else
            {
                argument = ParseExpression();
                if (Is(TokenType.Equals))
                {
                    _current++;
                    var key = argument as IdentifierNode ?? throw Error(parameters ? "expected a parameter name before '='" : "expected an argument name before '='");
                    argument = new KeywordArgumentNode(key.Line, key.Name, ParseExpression());
                }
                if (parameters)
                {
                    var name = argument switch
                    {
                        IdentifierNode id => id.Name,
                        KeywordArgumentNode kw => kw.Key,
                        _ => throw Error("expected a parameter name"),
                    };
                    if (!names.Add(name)) throw Error($"the parameter '{name}' is declared twice");
                }
                if (argument is KeywordArgumentNode) sawKeyword = true;
                else if (sawKeyword)
                    throw Error(parameters ? "a parameter without a default follows one with a default" : "a positional argument follows a keyword argument");
                else if (sawSpread) throw Error("a positional argument follows '*' unpacking");
            }
            args.Add(argument);
            if (Is(TokenType.Comma)) _current++;
        }
        Expect(TokenType.CloseParen, "')'");
        return args;
    }

    private Node ParseMember(Node target)
    {
        while (Is(TokenType.Dot) || Is(TokenType.OpenSquareBracket))
        {
            var op = Next();
            if (op.Type == TokenType.OpenSquareBracket)
            {
                var property = ParseSubscript(op.Line);
                Expect(TokenType.CloseSquareBracket, "']'");
                target = new MemberNode(op.Line, target, property, Computed: true);
            }
            else
            {
                var property = ParsePrimary();
                if (property is not (IdentifierNode or IntegerLiteral)) throw Error("expected a name or an integer after '.'");
                target = new MemberNode(op.Line, target, property, Computed: false);
            }
        }
        return target;
    }

    private Node ParseSubscript(int line)
    {
        var parts = new List<Node?>();
        var isSlice = false;
        while (!Is(TokenType.CloseSquareBracket))
        {
            if (Peek() is null) throw Error("unexpected end of template, expected ']'");
            if (Is(TokenType.Colon))
            {
                parts.Add(null);
                _current++;
                isSlice = true;
            }
            else
            {
                parts.Add(ParseExpression());
                if (Is(TokenType.Colon)) { _current++; isSlice = true; }
            }
        }
        if (parts.Count == 0) throw Error("expected an index or a slice inside '[]'");
        if (!isSlice) return parts[0]!;
        if (parts.Count > 3) throw Error("a slice has at most three parts");
        return new SliceNode(line, parts[0], parts.ElementAtOrDefault(1), parts.ElementAtOrDefault(2));
    }

    private Node ParsePrimary()
    {
        var token = Next();
        switch (token.Type)
        {
            case TokenType.NumericLiteral:
                if (token.Value.Contains('.'))
                    return new FloatLiteral(token.Line, double.Parse(token.Value, CultureInfo.InvariantCulture));
                return long.TryParse(token.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer)
                    ? new IntegerLiteral(token.Line, integer)
                    : throw new JinjaException($"the integer {token.Value} is too large", token.Line);
            case TokenType.StringLiteral:
            {
                var value = token.Value;
                while (Is(TokenType.StringLiteral)) value += Next().Value;
                return new StringLiteral(token.Line, value);
            }
            case TokenType.Identifier:
                return new IdentifierNode(token.Line, token.Value);
            case TokenType.OpenParen:
            {
                var expression = Nested(() => ParseExpressionSequence(primary: false));
                Expect(TokenType.CloseParen, "')'");
                return expression;
            }
            case TokenType.OpenSquareBracket:
            {
                var items = new List<Node>();
                while (!Is(TokenType.CloseSquareBracket))
                {
                    if (Peek() is null) throw Error("unexpected end of template, expected ']'");
                    items.Add(ParseExpression());
                    if (Is(TokenType.Comma)) _current++;
                }
                _current++;
                return new ArrayLiteral(token.Line, items);
            }
            case TokenType.OpenCurlyBracket:
            {
                var entries = new List<(Node, Node)>();
                while (!Is(TokenType.CloseCurlyBracket))
                {
                    if (Peek() is null) throw Error("unexpected end of template, expected '}'");
                    var key = ParseExpression();
                    Expect(TokenType.Colon, "':' between a key and its value");
                    entries.Add((key, ParseExpression()));
                    if (Is(TokenType.Comma)) _current++;
                }
                _current++;
                return new ObjectLiteral(token.Line, entries);
            }
            default:
                throw new JinjaException($"unexpected {Describe(token)}", token.Line);
        }
    }
}
