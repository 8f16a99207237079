namespace PeftHost.Core.Chat.Jinja;

/// <summary>A node of a parsed template; <see cref="Line"/> is where it starts in the source.</summary>
internal abstract record Node(int Line)
{
    /// <summary>The nodes directly inside this one (for the analysis of what a macro body reads).</summary>
    public virtual IEnumerable<Node?> Children() => [];
}

// Statements.
internal sealed record TemplateBody(List<Node> Body) : Node(1)
{
    public override IEnumerable<Node?> Children() => Body;
}
internal sealed record IfNode(int Line, Node Test, List<Node> Body, List<Node> Alternate) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Test, .. Body, .. Alternate];
}
internal sealed record ForNode(int Line, Node LoopVariable, Node Iterable, List<Node> Body, List<Node> Else) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Iterable, .. Body, .. Else];
}
/// <summary><c>{% set x = value %}</c>, or the block form <c>{% set x %}body{% endset %}</c> (Value null).</summary>
internal sealed record SetNode(int Line, Node Target, Node? Value, List<Node> Body) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Value, .. Body];
}
internal sealed record MacroNode(int Line, string Name, List<Node> Parameters, List<Node> Body) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [.. Parameters, .. Body];
}
/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: the body becomes the macro's <c>caller()</c>.</summary>
internal sealed record CallBlockNode(int Line, CallNode Call, List<Node> CallerParameters, List<Node> Body) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Call, .. CallerParameters, .. Body];
}
internal sealed record FilterBlockNode(int Line, Node Filter, List<Node> Body) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Filter, .. Body];
}
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);
internal sealed record CommentNode(int Line) : Node(Line);

// Expressions.
internal sealed record IdentifierNode(int Line, string Name) : Node(Line);
internal sealed record IntegerLiteral(int Line, long Value) : Node(Line);
internal sealed record FloatLiteral(int Line, double Value) : Node(Line);
/// <summary>A string literal, or template text between tags.</summary>
internal sealed record StringLiteral(int Line, string Value) : Node(Line);
internal sealed record ArrayLiteral(int Line, List<Node> Items) : Node(Line)
{
    public override IEnumerable<Node?> Children() => Items;
}
internal sealed record TupleLiteral(int Line, List<Node> Items) : Node(Line)
{
    public override IEnumerable<Node?> Children() => Items;
}
internal sealed record ObjectLiteral(int Line, List<(Node Key, Node Value)> Entries) : Node(Line)
{
    public override IEnumerable<Node?> Children() => Entries.SelectMany(e => new[] { e.Key, e.Value });
}
/// <summary><c>a.b</c> (Computed false) or <c>a[b]</c>.</summary>
internal sealed record MemberNode(int Line, Node Object, Node Property, bool Computed) : Node(Line)
{
    public override IEnumerable<Node?> Children() => Computed ? [Object, Property] : [Object];
}
internal sealed record CallNode(int Line, Node Callee, List<Node> Arguments) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Callee, .. Arguments];
}
internal sealed record BinaryNode(int Line, string Operator, Node Left, Node Right) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Left, Right];
}
internal sealed record UnaryNode(int Line, string Operator, Node Argument) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Argument];
}
/// <summary><c>operand | filter</c> or <c>operand | filter(args)</c> (Filter an identifier or a call).</summary>
internal sealed record FilterNode(int Line, Node Operand, Node Filter) : Node(Line)
{
    public override IEnumerable<Node?> Children() => Filter is CallNode call ? [Operand, .. call.Arguments] : [Operand];
}
internal sealed record TestNode(int Line, Node Operand, bool Negate, string Test) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Operand];
}
/// <summary><c>value if test</c> without else: undefined when the test fails (also a loop filter).</summary>
internal sealed record SelectNode(int Line, Node Value, Node Test) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Value, Test];
}
internal sealed record TernaryNode(int Line, Node Condition, Node IfTrue, Node IfFalse) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Condition, IfTrue, IfFalse];
}
internal sealed record SliceNode(int Line, Node? Start, Node? Stop, Node? Step) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Start, Stop, Step];
}
internal sealed record KeywordArgumentNode(int Line, string Key, Node Value) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Value];
}
/// <summary><c>*list</c> in a call.</summary>
internal sealed record SpreadNode(int Line, Node Argument) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Argument];
}
/// <summary><c>**mapping</c> in a call.</summary>
internal sealed record KeywordSpreadNode(int Line, Node Argument) : Node(Line)
{
    public override IEnumerable<Node?> Children() => [Argument];
}
