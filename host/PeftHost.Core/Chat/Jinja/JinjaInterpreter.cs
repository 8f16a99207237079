using System.Text;

namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// Evaluates a parsed template. Follows the reference renderer (@huggingface/jinja) rule by rule: scoping (a loop
/// or macro body sets variables in its own scope; <c>namespace()</c> carries values out), undefined values that
/// render as nothing, JavaScript-flavoured equality and arithmetic. An error raised anywhere gets the line of the
/// innermost node being evaluated.
/// </summary>
internal sealed class JinjaInterpreter(JinjaBudget budget)
{
    private sealed class BreakSignal : Exception;
    private sealed class ContinueSignal : Exception;

    public string Render(TemplateBody template, JinjaScope globals) => RenderBlock(template.Body, globals);

    private string RenderBlock(List<Node> statements, JinjaScope scope)
    {
        var output = new StringBuilder();
        foreach (var statement in statements)
        {
            var value = Evaluate(statement, scope);
            if (value is JinjaNull or JinjaUndefined) continue;
            try
            {
                // Displaying can fail too (a tuple has no text form): that is this statement's line.
                output.Append(value.Display());
                budget.CheckLength(output.Length);
            }
            catch (JinjaException e) when (e.Line == 0)
            {
                e.Line = statement.Line;
                throw;
            }
        }
        return output.ToString();
    }

    private JinjaValue Evaluate(Node? node, JinjaScope scope)
    {
        if (node is null) return JinjaUndefined.Instance;
        try
        {
            return EvaluateNode(node, scope);
        }
        catch (JinjaException e) when (e.Line == 0)
        {
            e.Line = node.Line;
            throw;
        }
    }

    private JinjaValue EvaluateNode(Node node, JinjaScope scope) => node switch
    {
        StringLiteral s => new JinjaString(s.Value),
        IntegerLiteral i => new JinjaInt(i.Value),
        FloatLiteral f => new JinjaFloat(f.Value),
        IdentifierNode id => scope.Lookup(id.Name),
        ArrayLiteral a => new JinjaArray(a.Items.Select(x => Evaluate(x, scope)).ToList()),
        TupleLiteral t => new JinjaArray(t.Items.Select(x => Evaluate(x, scope)).ToList(), isTuple: true),
        ObjectLiteral o => EvaluateObject(o, scope),
        SetNode set => EvaluateSet(set, scope),
        IfNode ifNode => new JinjaString(RenderBlock(Evaluate(ifNode.Test, scope).IsTruthy ? ifNode.Body : ifNode.Alternate, scope)),
        ForNode loop => EvaluateFor(loop, scope),
        MacroNode macro => DefineMacro(macro, scope),
        CallBlockNode call => EvaluateCallBlock(call, scope),
        FilterBlockNode filter => JinjaFilters.Apply(this, new JinjaString(RenderBlock(filter.Body, scope)), filter.Filter, scope),
        BreakNode => throw new BreakSignal(),
        ContinueNode => throw new ContinueSignal(),
        CommentNode => JinjaNull.Instance,
        CallNode call => EvaluateCall(call, scope),
        MemberNode member => EvaluateMember(member, scope),
        UnaryNode unary => EvaluateUnary(unary, scope),
        BinaryNode binary => EvaluateBinary(binary, scope),
        FilterNode filter => JinjaFilters.Apply(this, Evaluate(filter.Operand, scope), filter.Filter, scope),
        TestNode test => JinjaBool.Of(JinjaBuiltins.Test(test.Test, Evaluate(test.Operand, scope), null) != test.Negate),
        SelectNode select => Evaluate(select.Test, scope).IsTruthy ? Evaluate(select.Value, scope) : JinjaUndefined.Instance,
        TernaryNode ternary => Evaluate(ternary.Condition, scope).IsTruthy ? Evaluate(ternary.IfTrue, scope) : Evaluate(ternary.IfFalse, scope),
        _ => throw new JinjaException("this expression cannot be used here"),
    };

    private JinjaValue EvaluateObject(ObjectLiteral o, JinjaScope scope)
    {
        var entries = new OrderedDictionary<string, JinjaValue>();
        foreach (var (keyNode, valueNode) in o.Entries)
        {
            var key = Evaluate(keyNode, scope);
            if (key is not JinjaString k) throw new JinjaException($"mapping keys must be strings, got a {key.Kind}");
            entries[k.Value] = Evaluate(valueNode, scope);
        }
        return new JinjaObject(entries);
    }

    /// <summary>Positional arguments (with <c>*list</c> expanded) and keyword arguments (with <c>**mapping</c>).</summary>
    public (List<JinjaValue> Positional, OrderedDictionary<string, JinjaValue> Keywords) EvaluateArguments(List<Node> args, JinjaScope scope)
    {
        var positional = new List<JinjaValue>();
        var keywords = new OrderedDictionary<string, JinjaValue>();
        foreach (var argument in args)
        {
            if (argument is SpreadNode spread)
            {
                var value = Evaluate(spread.Argument, scope);
                if (value is not JinjaArray list) throw new JinjaException($"cannot unpack a {value.Kind} with '*'");
                positional.AddRange(list.Items);
            }
            else if (argument is not (KeywordArgumentNode or KeywordSpreadNode))
                positional.Add(Evaluate(argument, scope));
        }
        void AddKeyword(string key, JinjaValue value)
        {
            if (!keywords.TryAdd(key, value)) throw new JinjaException($"got multiple values for the keyword argument '{key}'");
        }
        foreach (var argument in args)
        {
            if (argument is KeywordArgumentNode kw) AddKeyword(kw.Key, Evaluate(kw.Value, scope));
            else if (argument is KeywordSpreadNode ks)
            {
                var value = Evaluate(ks.Argument, scope);
                if (value is not JinjaObject mapping) throw new JinjaException($"the argument after '**' must be a mapping, not a {value.Kind}");
                foreach (var (key, v) in mapping.Entries) AddKeyword(key, v);
            }
        }
        return (positional, keywords);
    }

    private JinjaValue EvaluateCall(CallNode call, JinjaScope scope)
    {
        var (args, kwargs) = EvaluateArguments(call.Arguments, scope);
        if (kwargs.Count > 0) args.Add(new JinjaObject(kwargs, isKeywordArguments: true));
        var callee = Evaluate(call.Callee, scope);
        if (callee is not JinjaFunction function)
            throw new JinjaException($"{CalleeName(call.Callee)} is not a function (it is {Article(callee)})");
        return function.Body(args, scope);
    }

    private static string CalleeName(Node callee) => callee switch
    {
        IdentifierNode id => $"'{id.Name}'",
        MemberNode { Computed: false, Property: IdentifierNode p } => $"'{p.Name}'",
        _ => "the called value",
    };

    private static string Article(JinjaValue v) => v is JinjaUndefined ? "undefined" : $"a {v.Kind}";

    private JinjaValue EvaluateMember(MemberNode member, JinjaScope scope)
    {
        var target = Evaluate(member.Object, scope);
        if (member.Property is SliceNode slice) return EvaluateSlice(target, slice, scope);
        JinjaValue property = member.Computed ? Evaluate(member.Property, scope)
            : member.Property is IntegerLiteral i ? new JinjaInt(i.Value)
            : new JinjaString(((IdentifierNode)member.Property).Name);
        JinjaValue? value;
        switch (target)
        {
            case JinjaObject or JinjaNamespace:
            {
                if (property is not JinjaString key) throw new JinjaException($"cannot look up a {property.Kind} in a {target.Kind}");
                var entries = target is JinjaObject o ? o.Entries : ((JinjaNamespace)target).Entries;
                value = entries.GetValueOrDefault(key.Value) ?? (target is JinjaObject obj ? JinjaBuiltins.ObjectMethod(obj, key.Value) : null);
                break;
            }
            case JinjaArray or JinjaString:
            {
                if (property is JinjaInt index)
                {
                    if (target is JinjaArray list) value = At(list.Items, index.Value);
                    else
                    {
                        var s = ((JinjaString)target).Value;
                        var position = index.Value < 0 ? s.Length + index.Value : index.Value;
                        value = position >= 0 && position < s.Length ? new JinjaString(s[(int)position].ToString()) : null;
                    }
                }
                else if (property is JinjaString name)
                    value = target is JinjaString str ? JinjaBuiltins.StringMember(str, name.Value, budget)
                        : name.Value == "length" ? new JinjaInt(((JinjaArray)target).Items.Count) : null;
                else throw new JinjaException($"cannot index a {target.Kind} with a {property.Kind}");
                break;
            }
            default:
                if (property is not JinjaString) throw new JinjaException($"cannot look up a {property.Kind} in {Article(target)}");
                value = null;
                break;
        }
        return value ?? JinjaUndefined.Instance;
    }

    private static JinjaValue? At(List<JinjaValue> items, long index)
    {
        var position = index < 0 ? items.Count + index : index;
        return position >= 0 && position < items.Count ? items[(int)position] : null;
    }

    private JinjaValue EvaluateSlice(JinjaValue target, SliceNode slice, JinjaScope scope)
    {
        if (target is not (JinjaArray or JinjaString)) throw new JinjaException($"cannot slice {Article(target)}");
        long? Part(Node? n, string what)
        {
            var v = Evaluate(n, scope);
            return v switch
            {
                JinjaInt i => i.Value,
                JinjaUndefined => null,
                _ => throw new JinjaException($"a slice {what} must be an integer"),
            };
        }
        var start = Part(slice.Start, "start");
        var stop = Part(slice.Stop, "stop");
        var step = Part(slice.Step, "step") ?? 1;
        if (target is JinjaArray list) return new JinjaArray(Slice(list.Items, start, stop, step));
        var s = ((JinjaString)target).Value;
        var codePoints = JinjaBuiltins.StringInfoCodePoints(s).Select(p => s.Substring(p.Index, p.Length)).ToList();
        return new JinjaString(string.Concat(Slice(codePoints, start, stop, step)));
    }

    /// <summary>Python's slicing (the reference's <c>slice</c>).</summary>
    private static List<T> Slice<T>(List<T> items, long? start, long? stop, long step)
    {
        long n = items.Count;
        long a, b;
        if (step >= 0)
        {
            // A step of zero makes no progress: the reference then returns nothing too (its loop never runs).
            a = start is { } s ? (s < 0 ? Math.Max(n + s, 0) : Math.Min(s, n)) : 0;
            b = stop is { } e ? (e < 0 ? Math.Max(n + e, 0) : Math.Min(e, n)) : n;
            if (step == 0) return [];
        }
        else
        {
            a = start is { } s ? (s < 0 ? Math.Max(n + s, -1) : Math.Min(s, n - 1)) : n - 1;
            b = stop is { } e ? (e < -1 ? Math.Max(n + e, -1) : Math.Min(e, n - 1)) : -1;
        }
        var result = new List<T>();
        var direction = Math.Sign(step);
        for (var i = a; direction * i < direction * b; i += step) result.Add(items[(int)i]);
        return result;
    }

    private JinjaValue EvaluateUnary(UnaryNode unary, JinjaScope scope)
    {
        var argument = Evaluate(unary.Argument, scope);
        if (unary.Operator == "not") return JinjaBool.Of(!argument.IsTruthy);
        var sign = unary.Operator == "-" ? -1 : 1;
        return argument switch
        {
            JinjaFloat f => new JinjaFloat(sign * f.Value),
            JinjaInt i => new JinjaInt(sign * i.Value),
            JinjaBool b => new JinjaInt(sign * (b.Value ? 1 : 0)),
            _ => throw new JinjaException($"cannot apply unary '{unary.Operator}' to {Article(argument)}"),
        };
    }

    private JinjaValue EvaluateBinary(BinaryNode node, JinjaScope scope)
    {
        var left = Evaluate(node.Left, scope);
        var op = node.Operator;
        if (op == "and") return left.IsTruthy ? Evaluate(node.Right, scope) : left;
        if (op == "or") return left.IsTruthy ? left : Evaluate(node.Right, scope);
        var right = Evaluate(node.Right, scope);
        if (op == "==") return JinjaBool.Of(JinjaEquality.Loose(left, right));
        if (op == "!=") return JinjaBool.Of(!JinjaEquality.Loose(left, right));
        if (left is JinjaUndefined || right is JinjaUndefined)
        {
            if (right is JinjaUndefined && op is "in" or "not in") return JinjaBool.Of(op == "not in");
            throw new JinjaException($"cannot apply '{op}' to an undefined value");
        }
        if (left is JinjaNull || right is JinjaNull) throw new JinjaException($"cannot apply '{op}' to none");
        if (op == "~") return new JinjaString(budget.CheckLength(left.ScriptText() + right.ScriptText()));
        if (op == "**" && Numeric(left) is { } pa && Numeric(right) is { } pb)
        {
            if (pa == 0 && pb < 0) throw new JinjaException("0.0 cannot be raised to a negative power");
            var power = Math.Pow(pa, pb);
            if (!double.IsFinite(power)) throw new JinjaException("the power is not a finite number");
            return left is JinjaFloat || right is JinjaFloat || pb < 0 ? new JinjaFloat(power) : new JinjaInt((long)power);
        }
        if (left is JinjaNumber ln && right is JinjaNumber rn)
        {
            var isFloat = left is JinjaFloat || right is JinjaFloat;
            if (!isFloat && op is "+" or "-" or "*" or "//" or "%")
            {
                long a = ((JinjaInt)left).Value, b = ((JinjaInt)right).Value;
                if (b == 0 && op is "//" or "%") throw new JinjaException("integer division or modulo by zero");
                return new JinjaInt(op switch
                {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    "//" => (long)Math.Floor((double)a / b),
                    _ => a % b,
                });
            }
            double x = ln.AsDouble, y = rn.AsDouble;
            return op switch
            {
                "+" => new JinjaFloat(x + y),
                "-" => new JinjaFloat(x - y),
                "*" => new JinjaFloat(x * y),
                "/" => new JinjaFloat(x / y),
                "//" => new JinjaFloat(Math.Floor(x / y)),
                "%" => new JinjaFloat(x % y),
                "<" => JinjaBool.Of(x < y),
                ">" => JinjaBool.Of(x > y),
                ">=" => JinjaBool.Of(x >= y),
                "<=" => JinjaBool.Of(x <= y),
                _ => throw Unsupported(op, left, right),
            };
        }
        if (left is JinjaArray la && right is JinjaArray ra)
            return op == "+" ? new JinjaArray([.. la.Items, .. ra.Items]) : throw Unsupported(op, left, right);
        if (right is JinjaArray haystack && op is "in" or "not in")
            return JinjaBool.Of(haystack.Items.Any(x => JinjaEquality.Strict(x, left)) == (op == "in"));
        if ((left is JinjaString || right is JinjaString) && op == "+")
            return new JinjaString(budget.CheckLength(left.ScriptText() + right.ScriptText()));
        if (left is JinjaString needle && right is JinjaString text && op is "in" or "not in")
            return JinjaBool.Of(text.Value.Contains(needle.Value, StringComparison.Ordinal) == (op == "in"));
        if (left is JinjaString key && right is JinjaObject mapping && op is "in" or "not in")
            return JinjaBool.Of(mapping.Entries.ContainsKey(key.Value) == (op == "in"));
        throw Unsupported(op, left, right);
    }

    private static double? Numeric(JinjaValue v) => v switch { JinjaNumber n => n.AsDouble, JinjaBool b => b.Value ? 1 : 0, _ => null };

    private static JinjaException Unsupported(string op, JinjaValue left, JinjaValue right) =>
        new($"cannot apply '{op}' to a {left.Kind} and a {right.Kind}");

    private JinjaValue EvaluateSet(SetNode set, JinjaScope scope)
    {
        var value = set.Value is not null ? Evaluate(set.Value, scope) : new JinjaString(RenderBlock(set.Body, scope));
        switch (set.Target)
        {
            case IdentifierNode id:
                scope.Set(id.Name, value);
                break;
            case TupleLiteral tuple:
                if (value is not JinjaArray list) throw new JinjaException($"cannot unpack {Article(value)} in set");
                if (list.Items.Count != tuple.Items.Count)
                    throw new JinjaException($"too {(tuple.Items.Count > list.Items.Count ? "few" : "many")} items to unpack in set");
                for (var i = 0; i < tuple.Items.Count; i++)
                {
                    if (tuple.Items[i] is not IdentifierNode name) throw new JinjaException("set can only unpack into names");
                    scope.Set(name.Name, list.Items[i]);
                }
                break;
            case MemberNode { Property: var property } member:
                var target = Evaluate(member.Object, scope);
                if (target is not JinjaNamespace ns) throw new JinjaException("set can only assign attributes of a namespace()");
                if (property is not IdentifierNode attribute || member.Computed) throw new JinjaException("set can only assign a named attribute");
                ns.Entries[attribute.Name] = value;
                break;
            default:
                throw new JinjaException("set needs a name, names, or a namespace attribute on its left");
        }
        return JinjaNull.Instance;
    }

    private JinjaValue EvaluateFor(ForNode loop, JinjaScope outer)
    {
        var scope = new JinjaScope(outer);
        Node? filterTest = null;
        JinjaValue iterable;
        if (loop.Iterable is SelectNode select)
        {
            iterable = Evaluate(select.Value, scope);
            filterTest = select.Test;
        }
        else iterable = Evaluate(loop.Iterable, scope);
        if (iterable is JinjaObject mapping) iterable = mapping.Keys();
        if (iterable is not JinjaArray list)
            throw new JinjaException($"a for loop needs a list or a mapping, got {Article(iterable)}");

        void Bind(JinjaScope target, JinjaValue item)
        {
            if (loop.LoopVariable is IdentifierNode id) { target.Set(id.Name, item); return; }
            var names = ((TupleLiteral)loop.LoopVariable).Items;
            if (item is not JinjaArray parts) throw new JinjaException($"cannot unpack {Article(item)} into loop variables");
            if (parts.Items.Count != names.Count)
                throw new JinjaException($"too {(names.Count > parts.Items.Count ? "few" : "many")} items to unpack");
            for (var j = 0; j < names.Count; j++)
            {
                if (names[j] is not IdentifierNode name) throw new JinjaException("loop variables must be names");
                target.Set(name.Name, parts.Items[j]);
            }
        }

        var items = new List<JinjaValue>();
        foreach (var item in list.Items.ToList())
        {
            if (filterTest is not null)
            {
                var loopScope = new JinjaScope(scope);
                Bind(loopScope, item);
                if (!Evaluate(filterTest, loopScope).IsTruthy) continue;
            }
            items.Add(item);
        }

        var output = new StringBuilder();
        var ran = false;
        for (var i = 0; i < items.Count; i++)
        {
            budget.Iterate();
            scope.Set("loop", new JinjaObject(new OrderedDictionary<string, JinjaValue>
            {
                ["index"] = new JinjaInt(i + 1),
                ["index0"] = new JinjaInt(i),
                ["revindex"] = new JinjaInt(items.Count - i),
                ["revindex0"] = new JinjaInt(items.Count - i - 1),
                ["first"] = JinjaBool.Of(i == 0),
                ["last"] = JinjaBool.Of(i == items.Count - 1),
                ["length"] = new JinjaInt(items.Count),
                ["previtem"] = i > 0 ? items[i - 1] : JinjaUndefined.Instance,
                ["nextitem"] = i < items.Count - 1 ? items[i + 1] : JinjaUndefined.Instance,
            }));
            Bind(scope, items[i]);
            try
            {
                output.Append(RenderBlock(loop.Body, scope));
                budget.CheckLength(output.Length);
            }
            catch (ContinueSignal) { continue; }
            catch (BreakSignal) { break; }
            ran = true;
        }
        if (!ran) output.Append(RenderBlock(loop.Else, scope));
        return new JinjaString(output.ToString());
    }

    private JinjaValue DefineMacro(MacroNode macro, JinjaScope scope)
    {
        var special = SpecialArguments(macro.Parameters, macro.Body);
        scope.Set(macro.Name, new JinjaFunction(macro.Name, (args, callerScope) =>
        {
            using var _ = budget.EnterCall();
            var macroScope = new JinjaScope(callerScope);
            BindArguments($"'{macro.Name}'", macro.Parameters, special, args, macroScope);
            return new JinjaString(RenderBlock(macro.Body, macroScope));
        }));
        return JinjaNull.Instance;
    }

    private JinjaValue EvaluateCallBlock(CallBlockNode node, JinjaScope scope)
    {
        var special = SpecialArguments(node.CallerParameters, node.Body);
        var caller = new JinjaFunction("caller", (callerArgs, _) =>
        {
            using var exit = budget.EnterCall();
            var callScope = new JinjaScope(scope);
            BindArguments("None", node.CallerParameters, special, callerArgs, callScope);
            return new JinjaString(RenderBlock(node.Body, callScope));
        });
        var (args, kwargs) = EvaluateArguments(node.Call.Arguments, scope);
        args.Add(new JinjaObject(kwargs, isKeywordArguments: true));
        var callee = Evaluate(node.Call.Callee, scope);
        if (callee is not JinjaFunction function)
            throw new JinjaException($"{CalleeName(node.Call.Callee)} is not a macro (it is {Article(callee)})");
        var callScope = new JinjaScope(scope);
        callScope.Set("caller", caller);
        return function.Body(args, callScope);
    }

    /// <summary>Which of <c>kwargs</c>/<c>varargs</c> a macro body reads: only then does it accept extra arguments.</summary>
    private static (bool Kwargs, bool Varargs) SpecialArguments(List<Node> parameters, List<Node> body)
    {
        var declared = parameters.Select(p => p switch { IdentifierNode id => id.Name, KeywordArgumentNode kw => kw.Key, _ => "" }).ToHashSet();
        bool kwargs = false, varargs = false;
        void Visit(Node? n)
        {
            switch (n)
            {
                case null: return;
                case IdentifierNode { Name: "kwargs" } when !declared.Contains("kwargs"): kwargs = true; return;
                case IdentifierNode { Name: "varargs" } when !declared.Contains("varargs"): varargs = true; return;
            }
            foreach (var child in n.Children()) Visit(child);
        }
        foreach (var p in parameters) if (p is KeywordArgumentNode kw) Visit(kw.Value);
        foreach (var statement in body) Visit(statement);
        return (kwargs, varargs);
    }

    private void BindArguments(string displayName, List<Node> parameters, (bool Kwargs, bool Varargs) special,
        List<JinjaValue> args, JinjaScope scope)
    {
        var positional = args.ToList();
        var keywords = new OrderedDictionary<string, JinjaValue>();
        if (positional.Count > 0 && positional[^1] is JinjaObject { IsKeywordArguments: true } kw)
        {
            keywords = new OrderedDictionary<string, JinjaValue>(kw.Entries);
            positional.RemoveAt(positional.Count - 1);
        }
        var pendingDefaults = new List<(string Name, Node Default)>();
        for (var i = 0; i < parameters.Count; i++)
        {
            var (name, defaultValue) = parameters[i] switch
            {
                IdentifierNode id => (id.Name, (Node?)null),
                KeywordArgumentNode k => (k.Key, k.Value),
                _ => throw new JinjaException("a macro parameter must be a name"),
            };
            var value = i < positional.Count ? positional[i] : null;
            if (value is null && keywords.Remove(name, out var given)) value = given;
            if (value is null && defaultValue is not null) pendingDefaults.Add((name, defaultValue));
            scope.Set(name, value ?? JinjaUndefined.Instance);
        }
        if (special.Kwargs) scope.Set("kwargs", new JinjaObject(keywords));
        else if (keywords.Count > 0)
            throw new JinjaException($"macro {displayName} takes no keyword argument '{keywords.GetAt(0).Key}'");
        if (special.Varargs) scope.Set("varargs", new JinjaArray(positional.Skip(parameters.Count).ToList()));
        else if (positional.Count > parameters.Count)
            throw new JinjaException($"macro {displayName} takes not more than {parameters.Count} argument(s)");
        foreach (var (name, defaultValue) in pendingDefaults) scope.Set(name, Evaluate(defaultValue, scope));
    }

    /// <summary>Evaluates an argument list for a filter (used by <see cref="JinjaFilters"/>).</summary>
    public JinjaValue EvaluateExpression(Node node, JinjaScope scope) => Evaluate(node, scope);

    /// <summary>The budget of this rendering (filters that build text check it).</summary>
    public JinjaBudget Budget => budget;
}
