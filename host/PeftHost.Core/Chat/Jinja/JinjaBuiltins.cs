using System.Globalization;
using System.Text.RegularExpressions;

namespace PeftHost.Core.Chat.Jinja;

/// <summary>
/// The functions a template can call: global ones (<c>namespace</c>, <c>range</c>, <c>raise_exception</c>,
/// <c>strftime_now</c>), the methods of strings and mappings, and the tests after <c>is</c>. Semantics follow the
/// reference renderer (which follows Python's where it can).
/// </summary>
internal static class JinjaBuiltins
{
    /// <summary>The global names every rendering starts with.</summary>
    public static void AddGlobals(JinjaScope scope, JinjaBudget budget)
    {
        scope.Set("namespace", new JinjaFunction("namespace", (args, _) => Namespace(args)));
        scope.Set("false", JinjaBool.False);
        scope.Set("true", JinjaBool.True);
        scope.Set("none", JinjaNull.Instance);
        scope.Set("raise_exception", new JinjaFunction("raise_exception", (args, _) =>
            throw new JinjaException(args.Count > 0 ? RawArgument(args[0]) : "undefined")));
        scope.Set("range", new JinjaFunction("range", (args, _) => Range(args, budget)));
        scope.Set("strftime_now", new JinjaFunction("strftime_now", (args, _) =>
            new JinjaString(StrftimeNow(args.Count > 0 ? RawArgument(args[0]) : ""))));
        scope.Set("True", JinjaBool.True);
        scope.Set("False", JinjaBool.False);
        scope.Set("None", JinjaNull.Instance);
    }

    /// <summary>A value passed to a JavaScript function as its plain value, then turned into text (raise_exception's message).</summary>
    private static string RawArgument(JinjaValue v) => v switch
    {
        JinjaNull => "null",
        JinjaUndefined => "undefined",
        _ => v.ScriptText(),
    };

    private static JinjaValue Namespace(List<JinjaValue> args)
    {
        var positional = args.ToList();
        JinjaObject? kwargs = null;
        if (positional.Count > 0 && positional[^1] is JinjaObject { IsKeywordArguments: true } k)
        {
            kwargs = k;
            positional.RemoveAt(positional.Count - 1);
        }
        if (positional.Count > 1) throw new JinjaException($"namespace expected at most 1 argument, got {positional.Count}");
        var entries = new OrderedDictionary<string, JinjaValue>();
        if (positional.Count == 1)
        {
            switch (positional[0])
            {
                case JinjaObject source:
                    foreach (var (key, value) in source.Entries) entries[key] = value;
                    break;
                case JinjaArray pairs:
                    foreach (var pair in pairs.Items)
                    {
                        var items = pair switch
                        {
                            JinjaArray a => a.Items,
                            JinjaString s => s.Value.Select(c => (JinjaValue)new JinjaString(c.ToString())).ToList(),
                            _ => null,
                        };
                        if (items is not { Count: 2 }) throw new JinjaException("namespace expected a mapping or a list of [key, value] pairs");
                        if (items[0] is not JinjaString key) throw new JinjaException("namespace keys must be strings");
                        entries[key.Value] = items[1];
                    }
                    break;
                default:
                    throw new JinjaException($"namespace cannot take a {positional[0].Kind}");
            }
        }
        if (kwargs is not null)
            foreach (var (key, value) in kwargs.Entries) entries[key] = value;
        return new JinjaNamespace(entries);
    }

    private static JinjaValue Range(List<JinjaValue> args, JinjaBudget budget)
    {
        double Arg(int i) => args[i] is JinjaNumber n ? n.AsDouble
            : throw new JinjaException($"range() takes numbers, got a {args[i].Kind}");
        if (args.Count is 0 or > 3) throw new JinjaException("range() takes 1 to 3 numbers");
        double start = 0, stop, step = 1;
        if (args.Count == 1) stop = Arg(0);
        else { start = Arg(0); stop = Arg(1); if (args.Count == 3) step = Arg(2); }
        if (step == 0) throw new JinjaException("range() step must not be zero");
        var items = new List<JinjaValue>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            budget.Iterate();
            items.Add(Number(i));
        }
        return new JinjaArray(items);
    }

    /// <summary>A number from JavaScript: an integer when it has no fraction (the reference's conversion rule).</summary>
    public static JinjaValue Number(double d) =>
        d % 1 == 0 && Math.Abs(d) < 9.2e18 ? new JinjaInt((long)d) : new JinjaFloat(d);

    private static string StrftimeNow(string format)
    {
        var now = DateTime.Now;
        return Regex.Replace(format, "%[YmdbBHM%]", m => m.Value switch
        {
            "%Y" => now.Year.ToString(CultureInfo.InvariantCulture),
            "%m" => now.Month.ToString("00", CultureInfo.InvariantCulture),
            "%d" => now.Day.ToString("00", CultureInfo.InvariantCulture),
            "%b" => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(now.Month),
            "%B" => CultureInfo.InvariantCulture.DateTimeFormat.GetMonthName(now.Month),
            "%H" => now.Hour.ToString("00", CultureInfo.InvariantCulture),
            "%M" => now.Minute.ToString("00", CultureInfo.InvariantCulture),
            _ => "%",
        });
    }

    /// <summary>A string's method or property (<c>s.strip()</c>, <c>s.length</c>); null when it has none of that name.</summary>
    public static JinjaValue? StringMember(JinjaString s, string name, JinjaBudget budget)
    {
        var v = s.Value;
        JinjaFunction Method(Func<List<JinjaValue>, JinjaValue> body) => new(name, (args, _) => body(args));
        return name switch
        {
            "upper" => Method(_ => new JinjaString(v.ToUpperInvariant())),
            "lower" => Method(_ => new JinjaString(v.ToLowerInvariant())),
            // strip/lstrip/rstrip trim whitespace and ignore a character argument, as the reference does (JavaScript's
            // trim takes none): Python would strip only the given characters, so `strip('\n')` can differ from
            // transformers in Python when the text ends in spaces. PeftHost renders what the reference renders.
            "strip" => Method(_ => new JinjaString(JsText.Trim(v))),
            "lstrip" => Method(_ => new JinjaString(JsText.TrimStart(v))),
            "rstrip" => Method(_ => new JinjaString(JsText.TrimEnd(v))),
            "title" => Method(_ => new JinjaString(JsText.TitleCase(v))),
            "capitalize" => Method(_ => new JinjaString(v.Length == 0 ? v : char.ToUpperInvariant(v[0]) + v[1..])),
            "length" => new JinjaInt(v.Length),
            "startswith" => Method(args => JinjaBool.Of(AffixMatches(v, args, "startswith", (text, affix) => text.StartsWith(affix, StringComparison.Ordinal)))),
            "endswith" => Method(args => JinjaBool.Of(AffixMatches(v, args, "endswith", (text, affix) => text.EndsWith(affix, StringComparison.Ordinal)))),
            "split" => Method(args => Split(v, args)),
            "replace" => Method(args => Replace(v, args, budget)),
            _ => null,
        };
    }

    private static bool AffixMatches(string text, List<JinjaValue> args, string name, Func<string, string, bool> test)
    {
        if (args.Count == 0) throw new JinjaException($"{name}() requires at least one argument");
        return args[0] switch
        {
            JinjaString affix => test(text, affix.Value),
            JinjaArray affixes => affixes.Items.Any(item => item is JinjaString s
                ? test(text, s.Value)
                : throw new JinjaException($"{name}() tuple elements must be strings")),
            _ => throw new JinjaException($"{name}() argument must be a string or a tuple of strings"),
        };
    }

    private static JinjaValue Split(string text, List<JinjaValue> args)
    {
        var separator = args.ElementAtOrDefault(0) ?? JinjaNull.Instance;
        var maxSplit = args.ElementAtOrDefault(1) ?? new JinjaInt(-1);
        if (separator is not (JinjaString or JinjaNull)) throw new JinjaException("split() separator must be a string or none");
        if (maxSplit is not JinjaInt max) throw new JinjaException("split() maxsplit must be a number");
        var parts = new List<string>();
        if (separator is JinjaNull)
        {
            // Python's split(): runs of whitespace separate, no empty parts at either end.
            var trimmed = JsText.TrimStart(text);
            foreach (Match m in Regex.Matches(trimmed, @"[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"))
            {
                if (max.Value != -1 && parts.Count >= max.Value)
                {
                    parts.Add(trimmed[m.Index..]);
                    break;
                }
                parts.Add(m.Value);
            }
        }
        else
        {
            var sep = ((JinjaString)separator).Value;
            if (sep.Length == 0) throw new JinjaException("split() separator is empty");
            parts = text.Split(sep).ToList();
            if (max.Value != -1 && parts.Count > max.Value)
            {
                var rest = string.Join(sep, parts.Skip((int)max.Value));
                parts = parts.Take((int)max.Value).Append(rest).ToList();
            }
        }
        return new JinjaArray(parts.Select(p => (JinjaValue)new JinjaString(p)).ToList());
    }

    /// <summary>Python's <c>str.replace(old, new, count)</c>; count may come as a keyword.</summary>
    public static JinjaValue Replace(string text, List<JinjaValue> args, JinjaBudget budget)
    {
        if (args.Count < 2) throw new JinjaException("replace() requires at least two arguments");
        if (args[0] is not JinjaString oldValue || args[1] is not JinjaString newValue)
            throw new JinjaException("replace() arguments must be strings");
        var count = args.Count > 2
            ? args[2] is JinjaObject { IsKeywordArguments: true } kw ? kw.Entries.GetValueOrDefault("count") ?? JinjaNull.Instance : args[2]
            : JinjaNull.Instance;
        if (count is not (JinjaInt or JinjaNull)) throw new JinjaException("replace() count must be a number or none");
        var remaining = count is JinjaInt c ? (c.Value < 0 ? long.MaxValue : c.Value) : long.MaxValue;
        if (remaining == 0) return new JinjaString(text);
        var b = new System.Text.StringBuilder();
        if (oldValue.Value.Length == 0)
        {
            // An empty pattern matches between every code point (and at both ends).
            var positions = StringInfoCodePoints(text);
            foreach (var (index, length) in positions)
            {
                if (remaining-- > 0) b.Append(newValue.Value);
                b.Append(text, index, length);
                budget.CheckLength(b.Length);
            }
            if (remaining > 0) b.Append(newValue.Value);
            return new JinjaString(budget.CheckLength(b.ToString()));
        }
        var at = 0;
        while (remaining > 0)
        {
            var found = text.IndexOf(oldValue.Value, at, StringComparison.Ordinal);
            if (found < 0) break;
            b.Append(text, at, found - at).Append(newValue.Value);
            budget.CheckLength(b.Length);
            at = found + oldValue.Value.Length;
            remaining--;
        }
        b.Append(text, at, text.Length - at);
        return new JinjaString(budget.CheckLength(b.ToString()));
    }

    /// <summary>(start, length) of each code point (a surrogate pair counts once).</summary>
    public static List<(int Index, int Length)> StringInfoCodePoints(string text)
    {
        var result = new List<(int, int)>();
        for (var i = 0; i < text.Length; i++)
        {
            var length = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            result.Add((i, length));
            i += length - 1;
        }
        return result;
    }

    /// <summary>A mapping's method (<c>get</c>, <c>items</c>, <c>keys</c>, <c>values</c>, <c>dictsort</c>); null otherwise.</summary>
    public static JinjaFunction? ObjectMethod(JinjaObject o, string name) => name switch
    {
        "get" => new JinjaFunction(name, (args, _) =>
        {
            var key = args.ElementAtOrDefault(0) ?? JinjaUndefined.Instance;
            if (key is not JinjaString k) throw new JinjaException($"a mapping key must be a string, got a {key.Kind}");
            return o.Entries.GetValueOrDefault(k.Value) ?? args.ElementAtOrDefault(1) ?? JinjaNull.Instance;
        }),
        "items" => new JinjaFunction(name, (_, _) => o.Items()),
        "keys" => new JinjaFunction(name, (_, _) => o.Keys()),
        "values" => new JinjaFunction(name, (_, _) => o.Values()),
        "dictsort" => new JinjaFunction(name, (args, _) => DictSort(o, args)),
        _ => null,
    };

    private static JinjaValue DictSort(JinjaObject o, List<JinjaValue> args)
    {
        var kwargs = new OrderedDictionary<string, JinjaValue>();
        var positional = new List<JinjaValue>();
        foreach (var a in args)
            if (a is JinjaObject { IsKeywordArguments: true } k) kwargs = k.Entries;
            else positional.Add(a);
        var caseSensitive = positional.ElementAtOrDefault(0) ?? kwargs.GetValueOrDefault("case_sensitive") ?? JinjaBool.False;
        var by = positional.ElementAtOrDefault(1) ?? kwargs.GetValueOrDefault("by") ?? new JinjaString("key");
        var reverse = positional.ElementAtOrDefault(2) ?? kwargs.GetValueOrDefault("reverse") ?? JinjaBool.False;
        if (caseSensitive is not JinjaBool cs) throw new JinjaException("case_sensitive must be a boolean");
        if (by is not JinjaString { Value: "key" or "value" } b) throw new JinjaException("by must be either 'key' or 'value'");
        if (reverse is not JinjaBool r) throw new JinjaException("reverse must be a boolean");
        var index = b.Value == "key" ? 0 : 1;
        var items = o.Items().Items.Cast<JinjaArray>().ToList();
        return new JinjaArray(StableSort(items.Cast<JinjaValue>(), (x, y) =>
        {
            var result = Compare(((JinjaArray)x).Items[index], ((JinjaArray)y).Items[index], cs.Value);
            return r.Value ? -result : result;
        }));
    }

    /// <summary>A stable sort (as JavaScript's) whose comparison may refuse two values with a template error.</summary>
    public static List<JinjaValue> StableSort(IEnumerable<JinjaValue> items, Comparison<JinjaValue> comparison)
    {
        try
        {
            return items.Order(Comparer<JinjaValue>.Create(comparison)).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is JinjaException inner)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(inner);
            throw;
        }
    }

    /// <summary>The reference's ordering for sort and dictsort: numbers (and booleans) together, strings together.</summary>
    public static int Compare(JinjaValue a, JinjaValue b, bool caseSensitive)
    {
        if (a is JinjaNull && b is JinjaNull || a is JinjaUndefined && b is JinjaUndefined) return 0;
        if (a is JinjaNull or JinjaUndefined || b is JinjaNull or JinjaUndefined)
            throw new JinjaException($"cannot compare a {a.Kind} with a {b.Kind}");
        double? Numeric(JinjaValue v) => v switch { JinjaNumber n => n.AsDouble, JinjaBool x => x.Value ? 1 : 0, _ => null };
        if (Numeric(a) is { } x && Numeric(b) is { } y) return x < y ? -1 : x > y ? 1 : 0;
        if (a is JinjaString s && b is JinjaString t)
        {
            var (p, q) = caseSensitive ? (s.Value, t.Value) : (s.Value.ToLowerInvariant(), t.Value.ToLowerInvariant());
            return Math.Sign(string.CompareOrdinal(p, q));
        }
        throw new JinjaException($"cannot compare a {a.Kind} with a {b.Kind}");
    }

    /// <summary>The tests after <c>is</c> (and the test names selectattr/rejectattr take).</summary>
    public static bool Test(string name, JinjaValue operand, JinjaValue? argument) => name switch
    {
        "boolean" => operand is JinjaBool,
        "callable" => operand is JinjaFunction,
        "odd" => operand is JinjaInt o ? o.Value % 2 != 0 : throw new JinjaException($"cannot test odd on a {operand.Kind}"),
        "even" => operand is JinjaInt e ? e.Value % 2 == 0 : throw new JinjaException($"cannot test even on a {operand.Kind}"),
        "false" => operand is JinjaBool { Value: false },
        "true" => operand is JinjaBool { Value: true },
        "none" => operand is JinjaNull,
        "string" => operand is JinjaString,
        "number" => operand is JinjaNumber,
        "integer" => operand is JinjaInt,
        "iterable" => operand is JinjaArray or JinjaString,
        "mapping" => operand is JinjaObject,
        "sequence" => operand is JinjaArray or JinjaObject or JinjaString,
        "lower" => operand is JinjaString l ? l.Value == l.Value.ToLowerInvariant() : throw new JinjaException($"cannot test lower on a {operand.Kind}"),
        "upper" => operand is JinjaString u ? u.Value == u.Value.ToUpperInvariant() : throw new JinjaException($"cannot test upper on a {operand.Kind}"),
        "defined" => operand is not JinjaUndefined,
        "undefined" => operand is JinjaUndefined,
        "equalto" or "eq" => JinjaEquality.Strict(operand, argument ?? JinjaUndefined.Instance),
        _ => throw new JinjaException($"unknown test '{name}'"),
    };

    public static bool IsTest(string name) => name is "boolean" or "callable" or "odd" or "even" or "false" or "true" or "none"
        or "string" or "number" or "integer" or "iterable" or "mapping" or "sequence" or "lower" or "upper" or "defined"
        or "undefined" or "equalto" or "eq";
}
