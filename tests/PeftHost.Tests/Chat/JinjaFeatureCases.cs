using System.Text.Json.Nodes;

namespace PeftHost.Tests.Chat;

/// <summary>Small templates, one or a few language features each, for the comparison with the reference renderer.</summary>
internal static class JinjaFeatureCases
{
    private static readonly JsonObject Data = JsonNode.Parse("""
        {
          "xs": [3, 1, 2, 5, 4],
          "words": ["b", "A", "c", "a"],
          "s": "a,b,,c",
          "u": "héllo 🤖 wörld",
          "ws": "  \t spaced   out \n ",
          "d": {"k": 1, "b": [1.5, "two", null, true], "a": {"nested": "yes"}},
          "empty": {},
          "msgs": [
            {"role": "system", "content": "sys", "meta": {"w": 2}},
            {"role": "user", "content": "hi", "meta": {"w": 1}},
            {"role": "assistant", "content": "", "meta": {"w": 3}},
            {"role": "user", "content": "bye", "extra": true}
          ],
          "n": 7, "f": 2.5, "zero": 0, "neg": -3, "big": 1e21, "small": 1.5e-7, "t": true, "nothing": null
        }
        """)!.AsObject();

    private static readonly (string Name, string Template)[] Templates =
    [
        ("concatenation", "{{ 'a' ~ 1 ~ 1.0 ~ 2.5 ~ true ~ xs }}|{{ 'a' + 'b' }}|{{ 'n=' + n }}|{{ 'x' ~ d }}"),
        ("numbers", "{{ 1.0 }} {{ 2.50 }} {{ n }} {{ f }} {{ -0.0 }} {{ big }} {{ small }} {{ 1/3 }} {{ 10/4 }} {{ 0.1 + 0.2 }}"),
        ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 / 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2.5 }} {{ 3 * 1.5 }} {{ 10 - 3 }} {{ 7.5 // 2 }} {{ -n }} {{ +f }} {{ - t }}"),
        ("comparisons", "{{ 1 == 1.0 }} {{ '1' == 1 }} {{ '' == 0 }} {{ t == 1 }} {{ nothing == missing }} {{ xs == xs }} {{ [] == [] }} {{ 'a' != 'b' }} {{ 2 < 3 }} {{ 3 >= 3.0 }} {{ n > f }}"),
        ("logic", "{{ t and 'x' or 'y' }} {{ not t }} {{ nothing or [] }} {{ empty or 'e' }} {{ 0 and 1 }} {{ 'a' if n > 5 else 'b' }}{{ 'z' if false }}|{{ not not xs }}"),
        ("membership", "{{ 'a' in 'cat' }} {{ 1 in [1, 2] }} {{ 1.0 in xs }} {{ 'k' in d }} {{ 'z' not in d }} {{ 'x' not in 'abc' }} {{ 'q' in missing }} {{ 'q' not in missing }}"),
        ("display", "{{ xs }}|{{ d }}|{{ empty }}|{{ nothing }}|{{ missing }}|{{ t }}|{{ msgs[1] }}|{{ [1, [2, {'a': none}]] }}"),
        ("tojson", "{{ d | tojson }}|{{ u | tojson }}|{{ 'line\nbreak\t\"q\"\\\u0001' | tojson }}|{{ xs | tojson }}|{{ missing | tojson }}|{{ f | tojson }}|{{ empty | tojson }}"),
        ("tojson options", "{{ d | tojson(indent=2) }}|{{ msgs[0] | tojson(indent=4) }}|{{ [] | tojson(indent=2) }}|{{ u | tojson(ensure_ascii=true) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}"),
        ("string methods", "{{ s.split(',') }} {{ ws.split() }} {{ s.split(',', 1) }} {{ ws.split(none, 1) }} {{ u.upper() }} {{ 'ABC'.lower() }} {{ ws.strip() }}|{{ ws.lstrip() }}|{{ ws.rstrip() }}|{{ 'hello big world'.title() }} {{ 'hELLO'.capitalize() }} {{ u.length }}"),
        ("strip with characters", "[{{ '\n\nx\n'.strip('\n') }}][{{ '--x--'.lstrip('-') }}][{{ 'ab  '.rstrip('\n') }}]"),
        ("startswith endswith", "{{ s.startswith('a,') }} {{ s.endswith(('x', ',c')) }} {{ u.startswith('h') }} {{ u.endswith('') }}"),
        ("replace", "{{ s.replace(',', ';') }} {{ s.replace(',', '', 2) }} {{ s | replace(',', '+') }} {{ s | replace(',', '_', count=1) }} {{ 'ab'.replace('', '-') }} {{ s.replace('zz', 'y') }}"),
        ("slicing", "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[1:4:2] }} {{ xs[-2:] }} {{ xs[10:] }} {{ u[1:5] }} {{ u[::-1] }} {{ u[-3:] }} {{ s[:0] }}"),
        ("indexing", "{{ xs[0] }} {{ xs[-1] }} {{ xs[99] }} {{ u[1] }} {{ u[-1] }} {{ msgs[-1].content }} {{ msgs[0]['meta']['w'] }} {{ d.a.nested }} {{ d['b'][1] }} {{ d.missing.deeper }} {{ xs.length }} {{ d.get('k') }} {{ d.get('zz', 'def') }} {{ d.get('zz') }}"),
        ("string filters", "{{ 'Hello World' | lower }} {{ 'hello world' | upper }} {{ 'hello world' | title }} {{ 'hello' | capitalize }} [{{ ws | trim }}] {{ u | length }} {{ 'x' | string }} {{ 'ab' | join }} {{ 'abc' | join('-') }}"),
        ("list filters", "{{ xs | length }} {{ xs | first }} {{ xs | last }} {{ xs | reverse }} {{ xs | sort }} {{ words | sort }} {{ words | sort(reverse=true) }} {{ words | sort(case_sensitive=true) }} {{ xs | join }} {{ xs | join(', ') }} {{ [1, 1, 2, 1] | unique }} {{ xs | list }} {{ xs | string }} {{ [1, none, 'a'] | join('|') }}"),
        ("mapping filters", "{{ d | length }} {{ d | items }} {{ d.items() | list }} {{ d.keys() }} {{ d.values() }} {{ d | dictsort }} {{ {'b': 2, 'A': 1, 'c': 0} | dictsort(by='value') }} {{ {'b': 2, 'A': 1} | dictsort(reverse=true) }}"),
        ("number filters", "{{ neg | abs }} {{ -2.5 | abs }} {{ f | int }} {{ n | float }} {{ '42abc' | int }} {{ 'x' | int }} {{ ' 3.5e1z' | float }} {{ 'x' | int(7) }} {{ t | int }} {{ n | string }} {{ f | string }} {{ t | string }}"),
        ("default", "{{ missing | default('d') }} {{ '' | default('e') }} {{ '' | default('e', true) }} {{ nothing | default('n') }} {{ nothing | default('n', boolean=true) }} {{ 0 | default(5, true) }}"),
        ("indent", "{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb\n\nc' | indent(2, true) }}|{{ 'a\nb\n\nc' | indent(width=1, first=true, blank=true) }}"),
        ("selectattr and map", "{{ msgs | selectattr('role', 'equalto', 'user') | list | length }} {{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }} {{ msgs | selectattr('extra') | length }} {{ msgs | selectattr('content') | map(attribute='content') | list }} {{ msgs | map(attribute='meta.w') | list }} {{ msgs | map(attribute='nope', default='-') | join }} {{ msgs[:3] | sort(attribute='meta.w') | map(attribute='role') | join(' ') }}"),
        ("sort by a missing attribute fails", "{{ msgs | sort(attribute='meta.w') }}"),
        ("tests", "{{ n is number }} {{ f is integer }} {{ n is integer }} {{ s is string }} {{ d is mapping }} {{ xs is iterable }} {{ s is iterable }} {{ d is iterable }} {{ missing is defined }} {{ missing is undefined }} {{ nothing is none }} {{ nothing is not none }} {{ t is boolean }} {{ t is true }} {{ t is false }} {{ n is odd }} {{ n is even }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ xs is sequence }} {{ range is callable }}"),
        ("for loop variables", "{% for x in xs %}[{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}]{% endfor %}"),
        ("for else, filter, break, continue", "{% for x in [] %}no{% else %}empty{% endfor %}|{% for x in xs if x > 2 %}{{ x }}{{ loop.index }}{% endfor %}|{% for x in xs %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in xs %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}"),
        ("for over mappings and pairs", "{% for k in d %}{{ k }};{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for m in msgs %}{{ m.role[0] }}{% endfor %}"),
        ("nested loops", "{% for a in range(3) %}{% for b in range(a) %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}"),
        ("range", "{{ range(3) }} {{ range(1, 10, 3) }} {{ range(5, 0, -2) }} {{ range(0) }}"),
        ("set and scoping", "{% set y = 1 %}{% for x in xs %}{% set y = x %}{% endfor %}{{ y }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t2 = (1, 'x') %}{{ t2 }}|{% if true %}{% set z = 5 %}{% endif %}{{ z }}"),
        ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for x in xs %}{% set ns.count = ns.count + x %}{% if x == 5 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} {{ ns }}|{% set ns2 = namespace(d) %}{{ ns2.k }}"),
        ("block set", "{% set block %}x{{ 1 + 1 }}\n  y{% endset %}[{{ block }}] {{ block | length }}"),
        ("macros", "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(punct='.', name='Cy') }}|{% macro all() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ all(1, 2, k=3) }}"),
        ("macro recursion", "{% macro count(n) %}{{ n }}{% if n > 0 %},{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(5) }}"),
        ("call block", "{% macro box(title) %}[{{ title }}:{{ caller() }}]{% endmacro %}{% call box('t') %}inside {{ n }}{% endcall %}|{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(item) each(xs) %}<{{ item }}>{% endcall %}"),
        ("filter block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}|{% filter replace('a', 'o') %}banana{% endfilter %}"),
        ("whitespace control", "  {%- if true -%}  x  {%- endif -%}  |  {{- ' y ' -}}  |{# comment #}  {#- trimmed -#}  z"),
        ("trim and lstrip blocks", "{% if true %}\nA\n{% endif %}\n  {% if true %}\n  B\n  {% endif %}\n{# c #}\nC\n    {{ 'expr keeps indent' }}\nD {% set q = 1 %}\nE\n"),
        ("generation markers", "{% for m in msgs %}{% generation %}{{ m.role }}{% endgeneration %} {%- generation -%} | {%- endgeneration %}{% endfor %}"),
        ("escapes", "{{ 'a\\nb\\t\\'q\\' \\\\ \\x41\\u00e9' }}|{{ \"double 'quoted'\" }}|{{ 'adjacent' ' literals' \" joined\" }}"),
        ("objects and lists", "{{ {'a': 1, 'b': [1, 2]} }} {{ {'a': 1}['a'] }} {{ [1, 2] + [3] }} {{ (1, 2) }} {{ ({'k': 'v'}).k }} {{ {'a': 1, 'a': 2} }}"),
        ("raise_exception", "{% if n > 5 %}{{ raise_exception('n is too big: ' ~ n) }}{% endif %}"),
        ("undefined arithmetic fails", "{{ missing + 1 }}"),
        ("unknown filter fails", "{{ xs | frobnicate }}"),
        ("comparison of strings fails", "{{ 'a' < 'b' }}"),
        ("strftime format", "{{ strftime_now('%%') }}"),
        ("is test inside expressions", "{{ (messages is defined) and messages | length }}{{ (msgs[0].content is string) and 'str' }}{{ 'x' if msgs[3].extra is defined }}"),
        ("mixed precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ n - 1 | abs }} {{ not 1 == 2 }} {{ 1 if 0 else 2 if 0 else 3 }}"),
    ];

    public static IEnumerable<JinjaReferenceTests.RenderCase> All() =>
        Templates.Select(t => new JinjaReferenceTests.RenderCase(t.Name, t.Template, (JsonObject)Data.DeepClone()));
}
