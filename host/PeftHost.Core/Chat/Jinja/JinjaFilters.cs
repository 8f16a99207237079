namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// The filters after <c>|</c>. As in the reference renderer, which filters exist depends on the operand's kind and
/// on whether the filter is written bare (<c>x | length</c>) or called (<c>x | join(", ")</c>).
/// </summary>
internal static class JinjaFilters
{
    public static JinjaValue Apply(JinjaInterpreter interpreter, JinjaValue operand, Node filter, JinjaScope scope) => filter switch
    {
        IdentifierNode name => Bare(interpreter, operand, name.Name, scope),
        CallNode { Callee: IdentifierNode name } call => Called(interpreter, operand, name.Name, call.Arguments, scope),
        _ => throw new JinjaException("a filter must be a name or a call"),
    };

    private static JinjaException Unknown(string name, JinjaValue operand) =>
        new($"the filter '{name}' cannot be applied to {(operand is JinjaUndefined ? "an undefined value" : "a " + operand.Kind)}");

    private static JinjaValue Bare(JinjaInterpreter interpreter, JinjaValue operand, string name, JinjaScope scope)
    {
        var budget = interpreter.Budget;
        if (name == "safe") return operand;
        if (name == "tojson") return new JinjaString(budget.CheckLength(JinjaJson.Serialize(operand, JinjaJson.Options.Default)));
        switch (operand)
        {
            case JinjaArray list:
                return name switch
                {
                    "list" => list,
                    "first" => list.Items.Count > 0 ? list.Items[0] : JinjaUndefined.Instance,
                    "last" => list.Items.Count > 0 ? list.Items[^1] : JinjaUndefined.Instance,
                    "length" => new JinjaInt(list.Items.Count),
                    "reverse" => new JinjaArray(Enumerable.Reverse(list.Items).ToList()),
                    "sort" => new JinjaArray(JinjaBuiltins.StableSort(list.Items, (a, b) => JinjaBuiltins.Compare(a, b, false))),
                    "join" => new JinjaString(budget.CheckLength(string.Concat(list.Items.Select(JoinText)))),
                    "string" => new JinjaString(JinjaJson.Serialize(list, JinjaJson.Options.Default, undefinedAsNull: false)),
                    "unique" => Unique(list),
                    _ => throw Unknown(name, operand),
                };
            case JinjaString s:
                return name switch
                {
                    "length" or "upper" or "lower" or "title" or "capitalize" => JinjaBuiltins.StringMember(s, name, budget) switch
                    {
                        JinjaFunction f => f.Body([], scope),
                        var value => value!,
                    },
                    "trim" => new JinjaString(JsText.Trim(s.Value)),
                    "indent" => new JinjaString(Indent(s.Value, 4, first: false, blank: false)),
                    "join" or "string" => s,
                    "int" => double.IsNaN(JsText.ParseInt(s.Value)) ? new JinjaInt(0) : JinjaBuiltins.Number(JsText.ParseInt(s.Value)),
                    "float" => new JinjaFloat(double.IsNaN(JsText.ParseFloat(s.Value)) ? 0 : JsText.ParseFloat(s.Value)),
                    _ => throw Unknown(name, operand),
                };
            case JinjaNumber n:
                return name switch
                {
                    "abs" => n is JinjaInt i ? new JinjaInt(Math.Abs(i.Value)) : new JinjaFloat(Math.Abs(n.AsDouble)),
                    "int" => JinjaBuiltins.Number(Math.Floor(n.AsDouble)),
                    "float" => new JinjaFloat(n.AsDouble),
                    "string" => new JinjaString(n.Display()),
                    _ => throw Unknown(name, operand),
                };
            case JinjaObject o:
                return name switch
                {
                    "items" => o.Items(),
                    "length" => new JinjaInt(o.Entries.Count),
                    _ => JinjaBuiltins.ObjectMethod(o, name)?.Body([], scope) ?? throw Unknown(name, operand),
                };
            case JinjaBool b:
                return name switch
                {
                    "bool" => b,
                    "int" => new JinjaInt(b.Value ? 1 : 0),
                    "float" => new JinjaFloat(b.Value ? 1 : 0),
                    "string" => new JinjaString(b.Value ? "true" : "false"),
                    _ => throw Unknown(name, operand),
                };
            default:
                throw Unknown(name, operand);
        }
    }

    /// <summary>How <c>join</c> writes an item: JavaScript's Array.join (none and undefined become empty).</summary>
    private static string JoinText(JinjaValue item) => item is JinjaNull or JinjaUndefined ? "" : item.ScriptText();

    private static JinjaValue Unique(JinjaArray list)
    {
        var output = new List<JinjaValue>();
        foreach (var item in list.Items)
            if (!output.Any(seen => JinjaEquality.Strict(seen, item))) output.Add(item);
        return new JinjaArray(output);
    }

    private static string Indent(string text, int width, bool first, bool blank)
    {
        var pad = new string(' ', width);
        return string.Join("\n", text.Split('\n').Select((line, i) =>
            (!first && i == 0) || (!blank && line.Length == 0) ? line : pad + line));
    }

    private static JinjaValue Called(JinjaInterpreter interpreter, JinjaValue operand, string name, List<Node> argumentNodes, JinjaScope scope)
    {
        var budget = interpreter.Budget;
        switch (name)
        {
            case "tojson":
            {
                var (_, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                var indent = kwargs.GetValueOrDefault("indent") ?? JinjaNull.Instance;
                if (indent is not (JinjaInt or JinjaNull)) throw new JinjaException("tojson's indent must be a number");
                var ensureAscii = kwargs.GetValueOrDefault("ensure_ascii") ?? JinjaBool.False;
                if (ensureAscii is not JinjaBool ascii) throw new JinjaException("tojson's ensure_ascii must be a boolean");
                var sortKeys = kwargs.GetValueOrDefault("sort_keys") ?? JinjaBool.False;
                if (sortKeys is not JinjaBool sort) throw new JinjaException("tojson's sort_keys must be a boolean");
                (string, string)? separators = null;
                switch (kwargs.GetValueOrDefault("separators") ?? JinjaNull.Instance)
                {
                    case JinjaNull: break;
                    case JinjaArray { Items: [JinjaString item, JinjaString key] }: separators = (item.Value, key.Value); break;
                    default: throw new JinjaException("tojson's separators must be a pair of strings");
                }
                var options = new JinjaJson.Options(indent is JinjaInt i ? (int)i.Value : null, ascii.Value, separators, sort.Value);
                return new JinjaString(budget.CheckLength(JinjaJson.Serialize(operand, options)));
            }
            case "join":
            {
                var parts = operand switch
                {
                    JinjaString s => JinjaBuiltins.StringInfoCodePoints(s.Value).Select(p => s.Value.Substring(p.Index, p.Length)).ToList(),
                    JinjaArray list => list.Items.Select(JoinText).ToList(),
                    _ => throw Unknown(name, operand),
                };
                var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                var separator = args.ElementAtOrDefault(0) ?? kwargs.GetValueOrDefault("separator") ?? JinjaString.Empty;
                if (separator is not JinjaString sep) throw new JinjaException("join's separator must be a string");
                return new JinjaString(budget.CheckLength(string.Join(sep.Value, parts)));
            }
            case "int" or "float":
            {
                var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                var fallback = args.ElementAtOrDefault(0) ?? kwargs.GetValueOrDefault("default")
                    ?? (name == "int" ? new JinjaInt(0) : new JinjaFloat(0));
                return operand switch
                {
                    JinjaString s => (name == "int" ? JsText.ParseInt(s.Value) : JsText.ParseFloat(s.Value)) is var d && double.IsNaN(d)
                        ? fallback
                        : name == "int" ? JinjaBuiltins.Number(d) : new JinjaFloat(d),
                    JinjaNumber => operand,
                    JinjaBool b => name == "int" ? new JinjaInt(b.Value ? 1 : 0) : new JinjaFloat(b.Value ? 1 : 0),
                    _ => throw Unknown(name, operand),
                };
            }
            case "default":
            {
                var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                var fallback = args.ElementAtOrDefault(0) ?? JinjaString.Empty;
                var boolean = args.ElementAtOrDefault(1) ?? kwargs.GetValueOrDefault("boolean") ?? JinjaBool.False;
                if (boolean is not JinjaBool useTruthiness) throw new JinjaException("default's boolean flag must be true or false");
                return operand is JinjaUndefined || (useTruthiness.Value && !operand.IsTruthy) ? fallback : operand;
            }
        }
        switch (operand)
        {
            case JinjaArray list:
                return name switch
                {
                    "sort" => Sort(interpreter, list, argumentNodes, scope),
                    "selectattr" or "rejectattr" => SelectAttribute(interpreter, list, name, argumentNodes, scope),
                    "map" => MapAttribute(interpreter, list, argumentNodes, scope),
                    _ => throw Unknown(name, operand),
                };
            case JinjaString s when name == "indent":
            {
                var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                var width = args.ElementAtOrDefault(0) ?? kwargs.GetValueOrDefault("width") ?? new JinjaInt(4);
                if (width is not JinjaInt w) throw new JinjaException("indent's width must be a number");
                var first = args.ElementAtOrDefault(1) ?? kwargs.GetValueOrDefault("first") ?? JinjaBool.False;
                var blank = args.ElementAtOrDefault(2) ?? kwargs.GetValueOrDefault("blank") ?? JinjaBool.False;
                return new JinjaString(budget.CheckLength(Indent(s.Value, (int)Math.Clamp(w.Value, 0, budget.Limits.MaxOutputChars), first.IsTruthy, blank.IsTruthy)));
            }
            case JinjaString s when name == "replace":
            {
                var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                return JinjaBuiltins.Replace(s.Value, [.. args, new JinjaObject(kwargs, isKeywordArguments: true)], budget);
            }
            case JinjaObject o when JinjaBuiltins.ObjectMethod(o, name) is { } method:
            {
                var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
                if (kwargs.Count > 0) args.Add(new JinjaObject(kwargs, isKeywordArguments: true));
                return method.Body(args, scope);
            }
            default:
                throw Unknown(name, operand);
        }
    }

    private static JinjaValue Sort(JinjaInterpreter interpreter, JinjaArray list, List<Node> argumentNodes, JinjaScope scope)
    {
        var (args, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
        var reverse = args.ElementAtOrDefault(0) ?? kwargs.GetValueOrDefault("reverse") ?? JinjaBool.False;
        var caseSensitive = args.ElementAtOrDefault(1) ?? kwargs.GetValueOrDefault("case_sensitive") ?? JinjaBool.False;
        var attribute = args.ElementAtOrDefault(2) ?? kwargs.GetValueOrDefault("attribute") ?? JinjaNull.Instance;
        if (reverse is not JinjaBool r) throw new JinjaException("sort's reverse must be a boolean");
        if (caseSensitive is not JinjaBool cs) throw new JinjaException("sort's case_sensitive must be a boolean");
        if (attribute is not (JinjaString or JinjaInt or JinjaNull)) throw new JinjaException("sort's attribute must be a string, an integer or none");
        JinjaValue Key(JinjaValue item) => attribute is JinjaNull ? item : AttributePath(item, attribute.Display());
        return new JinjaArray(JinjaBuiltins.StableSort(list.Items, (a, b) =>
        {
            var result = JinjaBuiltins.Compare(Key(a), Key(b), cs.Value);
            return r.Value ? -result : result;
        }));
    }

    /// <summary>A dotted attribute path ("details.priority", "items.0") into mappings and lists; undefined when absent.</summary>
    private static JinjaValue AttributePath(JinjaValue item, string path)
    {
        var value = item;
        foreach (var part in path.Split('.'))
        {
            value = value switch
            {
                JinjaObject o => o.Entries.GetValueOrDefault(part) ?? JinjaUndefined.Instance,
                JinjaNamespace ns => ns.Entries.GetValueOrDefault(part) ?? JinjaUndefined.Instance,
                JinjaArray list => JsText.ParseInt(part) is var index && !double.IsNaN(index) && index >= 0 && index < list.Items.Count
                    ? list.Items[(int)index] : JinjaUndefined.Instance,
                _ => JinjaUndefined.Instance,
            };
            if (value is JinjaUndefined) return value;
        }
        return value;
    }

    private static JinjaValue SelectAttribute(JinjaInterpreter interpreter, JinjaArray list, string name, List<Node> argumentNodes, JinjaScope scope)
    {
        var select = name == "selectattr";
        if (list.Items.Any(item => item is not (JinjaObject or JinjaNamespace)))
            throw new JinjaException($"{name} can only be applied to a list of mappings");
        if (argumentNodes.Any(a => a is not StringLiteral))
            throw new JinjaException($"the arguments of {name} must be strings");
        var args = argumentNodes.Select(a => ((StringLiteral)a).Value).ToList();
        if (args.Count == 0) throw new JinjaException($"{name} needs an attribute name");
        var test = args.ElementAtOrDefault(1);
        if (test is not null && !JinjaBuiltins.IsTest(test)) throw new JinjaException($"unknown test '{test}'");
        JinjaValue? argument = args.Count > 2 ? new JinjaString(args[2]) : null;
        var kept = list.Items.Where(item =>
        {
            var entries = item is JinjaObject o ? o.Entries : ((JinjaNamespace)item).Entries;
            var result = entries.TryGetValue(args[0], out var a)
                && (test is null ? a.IsTruthy : JinjaBuiltins.Test(test, a, argument ?? JinjaUndefined.Instance));
            return result == select;
        }).ToList();
        return new JinjaArray(kept);
    }

    private static JinjaValue MapAttribute(JinjaInterpreter interpreter, JinjaArray list, List<Node> argumentNodes, JinjaScope scope)
    {
        var (_, kwargs) = interpreter.EvaluateArguments(argumentNodes, scope);
        if (!kwargs.TryGetValue("attribute", out var attribute))
            throw new JinjaException("map is supported with attribute=... only");
        if (attribute is not JinjaString path) throw new JinjaException("map's attribute must be a string");
        var fallback = kwargs.GetValueOrDefault("default");
        return new JinjaArray(list.Items.Select(item =>
        {
            if (item is not (JinjaObject or JinjaNamespace)) throw new JinjaException("map(attribute=...) needs a list of mappings");
            var value = AttributePath(item, path.Value);
            return value is JinjaUndefined ? fallback ?? JinjaUndefined.Instance : value;
        }).ToList());
    }
}
