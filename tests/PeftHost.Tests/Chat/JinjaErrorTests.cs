using System.Text.Json.Nodes;
using PeftHost.Core.Chat.Jinja;

namespace PeftHost.Tests.Chat;

/// <summary>Template errors name the template line; a rendering cannot run away (loops, output size, recursion).</summary>
public sealed class JinjaErrorTests
{
    private static JinjaException Fails(string template, JsonObject? context = null, JinjaLimits? limits = null) =>
        Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template).Render(context ?? [], limits));

    [Theory]
    [InlineData("line one\n{% for m in messages %}\n{{ m }}\n", 2, "'for' is not closed")]
    [InlineData("a\nb\n\n{{ messages | nosuchfilter }}", 4, "the filter 'nosuchfilter'")]
    [InlineData("{% if true %}\n  {% frobnicate %}\n{% endif %}", 2, "unknown statement 'frobnicate'")]
    [InlineData("{{ 'unterminated }}", 1, "unexpected end of template")]
    [InlineData("x\n{{ 1 +* 2 }}", 2, "unexpected '*'")]
    public void A_template_that_does_not_parse_or_render_names_its_line(string template, int line, string reason)
    {
        var e = Fails(template, new JsonObject { ["messages"] = new JsonArray("a") });
        Assert.Equal(line, e.Line);
        Assert.Contains(reason, e.Reason);
        Assert.StartsWith($"line {line}: ", e.Message);
    }

    [Fact]
    public void Raise_exception_reports_its_message_at_its_line_even_inside_a_multi_line_template()
    {
        // trim_blocks and lstrip_blocks remove newlines before lexing: lines must still be counted in the source.
        var template = "{% for m in messages %}\n  {% if m.role == 'x' %}\n    {{ raise_exception('bad role ' ~ m.role) }}\n  {% endif %}\n{% endfor %}\n";
        var e = Fails(template, new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "x" }) });
        Assert.Equal("line 3: bad role x", e.Message);
    }

    [Fact]
    public void Runaway_loops_stop_at_the_iteration_limit()
    {
        var e = Fails("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", limits: new JinjaLimits(MaxIterations: 100_000));
        Assert.Contains("loop iterations", e.Reason);
    }

    [Fact]
    public void Output_growing_without_bound_stops_at_the_size_limit()
    {
        // Doubling a string 40 times would need a terabyte.
        var e = Fails("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            limits: new JinjaLimits(MaxOutputChars: 1 << 20));
        Assert.Contains("characters", e.Reason);
    }

    [Fact]
    public void Unbounded_macro_recursion_stops_at_the_call_depth_limit()
    {
        var e = Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        Assert.Contains("deeper than", e.Reason);
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void Deeply_nested_expressions_are_refused_instead_of_overflowing_the_stack()
    {
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}"));
        Assert.Contains("nests deeper", e.Reason);
    }

    [Fact]
    public void A_context_variable_cannot_replace_a_built_in()
    {
        var e = Fails("{{ raise_exception }}", new JsonObject { ["raise_exception"] = "x" });
        Assert.Contains("built-in", e.Reason);
    }
}
