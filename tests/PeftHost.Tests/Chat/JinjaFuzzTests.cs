using System.Diagnostics;
using System.Text.Json.Nodes;
using PeftHost.Core.Chat.Jinja;
using Xunit.Abstractions;

namespace PeftHost.Tests.Chat;

/// <summary>
/// Damaged templates (characters deleted, duplicated, swapped for Jinja's own punctuation) either render or fail
/// with a template error naming a line: never another exception, a hang or a runaway.
/// </summary>
public sealed class JinjaFuzzTests(ITestOutputHelper log)
{
    private static readonly string[] Pieces = ["{%", "%}", "{{", "}}", "{#", "#}", "-", "(", ")", "[", "]", "'", "\"", "|", ".", ",", ":", "=", " for ", " if ", " in ", " endfor ", " endif ", "loop", "**", "~", "\\", "\n"];

    [Fact]
    public void Mutated_templates_render_or_fail_with_a_template_error()
    {
        var random = new Random(17);
        var sources = Corpus().ToList();
        int rendered = 0, refused = 0;
        var slowest = TimeSpan.Zero;
        var failures = new List<string>();
        for (var i = 0; i < 2000; i++)
        {
            var (template, context) = sources[random.Next(sources.Count)];
            var mutated = Mutate(template, random);
            var watch = Stopwatch.StartNew();
            try
            {
                JinjaTemplate.Parse(mutated).Render(context, new JinjaLimits(MaxIterations: 100_000, MaxOutputChars: 1 << 20));
                rendered++;
            }
            catch (JinjaException e) when (e.Line > 0)
            {
                refused++;
            }
            catch (Exception e)
            {
                failures.Add($"{e.GetType().Name}: {e.Message}\n  template: {System.Text.Json.JsonSerializer.Serialize(mutated)}");
            }
            if (watch.Elapsed > slowest) slowest = watch.Elapsed;
        }
        log.WriteLine($"{rendered} rendered, {refused} refused with a line, {failures.Count} failures; slowest {slowest.TotalMilliseconds:F0} ms");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        Assert.True(slowest < TimeSpan.FromSeconds(5), $"slowest case took {slowest}");
    }

    private static IEnumerable<(string Template, JsonObject Context)> Corpus()
    {
        foreach (var (name, messages, withTools) in ChatTemplateCorpus.Conversations().Take(3))
            foreach (var template in ChatTemplateCorpus.HandWritten.Values)
                yield return (template, new JsonObject
                {
                    ["messages"] = messages.DeepClone(), ["add_generation_prompt"] = true, ["bos_token"] = "<s>", ["eos_token"] = "</s>",
                    ["tools"] = withTools ? ChatTemplateCorpus.Tools() : null,
                });
        foreach (var c in JinjaFeatureCases.All())
            yield return (c.Template, c.Context);
    }

    private static string Mutate(string template, Random random)
    {
        var text = template;
        for (int edits = random.Next(1, 4); edits > 0 && text.Length > 0; edits--)
        {
            var at = random.Next(text.Length);
            text = random.Next(4) switch
            {
                0 => text.Remove(at, Math.Min(random.Next(1, 6), text.Length - at)),
                1 => text.Insert(at, Pieces[random.Next(Pieces.Length)]),
                2 => text.Insert(at, text.Substring(at, Math.Min(random.Next(1, 12), text.Length - at))),
                _ => text.Remove(at, 1).Insert(at, Pieces[random.Next(Pieces.Length)]),
            };
        }
        return text;
    }
}
