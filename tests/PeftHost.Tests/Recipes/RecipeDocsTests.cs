using System.Text.RegularExpressions;
using PeftHost.Core.Recipes.Api;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>docs/RECIPES.md documents exactly what the "peft" module exports, every option of every function and every event.</summary>
public sealed partial class RecipeDocsTests : IDisposable
{
    private static readonly string Docs = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "RECIPES.md"));
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void The_documented_names_are_the_module_exports()
    {
        var run = _h.Run("exports.js", """
            import * as peft from "peft";
            peft.log("EXPORTS " + Object.keys(peft).join(","));
            """);
        Assert.True(run.Code == 0, run.Err);
        var exported = Regex.Match(run.Out, @"EXPORTS (\S+)").Groups[1].Value.Split(',').Order().ToArray();
        var documented = Sections().Keys.Order().ToArray();
        Assert.Equal(exported, documented);
    }

    [Fact]
    public void Every_option_is_documented_under_its_function()
    {
        var sections = Sections();
        var missing = new List<string>();
        foreach (var schema in RecipeApi.OptionSchemas)
        {
            string section = SectionOf(schema.Owner);
            Assert.True(sections.ContainsKey(section), $"no section for {schema.Owner} ({section})");
            foreach (var spec in schema.Specs)
                if (!sections[section].Contains($"`{spec.Name}`", StringComparison.Ordinal)) missing.Add($"{schema.Owner}: {spec.Name}");
        }
        Assert.True(missing.Count == 0, "undocumented options: " + string.Join("; ", missing));
    }

    [Fact]
    public void Every_event_is_documented_under_on()
    {
        string on = Sections()["on"];
        foreach (var name in RecipeApi.EventNames) Assert.Contains($"`\"{name}\"`", on);
    }

    [Fact]
    public void Every_recipe_in_the_recipes_folder_is_listed()
    {
        foreach (var recipe in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "recipes"), "*.js").Where(f => !Path.GetFileName(f).StartsWith('_')))
            Assert.Contains($"`recipes/{Path.GetFileName(recipe)}`", Docs);
    }

    /// <summary>The API reference's sections, by function name.</summary>
    private static Dictionary<string, string> Sections()
    {
        string reference = Docs[Docs.IndexOf("## API reference", StringComparison.Ordinal)..];
        var headings = Heading().Matches(reference);
        var sections = new Dictionary<string, string>();
        for (int i = 0; i < headings.Count; i++)
        {
            int start = headings[i].Index;
            int end = i + 1 < headings.Count ? headings[i + 1].Index : reference.Length;
            sections.Add(headings[i].Groups[1].Value, reference[start..end]);
        }
        return sections;
    }

    /// <summary>The section documenting a schema's owner: "tokenizer.encode" → loadTokenizer, "dataset.split" → loadDataset, "train earlyStopping" → train.</summary>
    private static string SectionOf(string owner)
    {
        string head = owner.Split(' ', '.')[0];
        return head switch
        {
            "tokenizer" => "loadTokenizer",
            "dataset" => "loadDataset",
            _ => head,
        };
    }

    [GeneratedRegex(@"^### `(\w+)`", RegexOptions.Multiline)]
    private static partial Regex Heading();
}
