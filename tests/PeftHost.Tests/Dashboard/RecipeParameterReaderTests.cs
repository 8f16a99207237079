using PeftHost.Cli.Dashboard.Recipes;

namespace PeftHost.Tests.Dashboard;

/// <summary>Reading the parameters a recipe declares with defineParams, without running it.</summary>
public sealed class RecipeParameterReaderTests
{
    private const string Recipe = """
        // LoRA on the bundled model.
        import { defineParams, loadModel, train } from "peft";

        const note = "defineParams({ notThis: 1 }) in a string is not a call";
        /* defineParams({ norThis: 2 }) in a comment is not either */
        const p = defineParams({
          model: "models/stories260k", // the model folder
          steps: 40,                   // optimizer steps
          learningRate: 3e-4,
          r: 8,
          'lora_dropout': 0.05,
          negative: -1.5,
          targets: ["q_proj", "v_proj"], // modules to adapt
          bf16: false,
          schedule: { warmup: 10, kind: "cosine" },
          seed: Date.now() % 1000,     // computed
          name: `run-${8}`,
          plain: `as is`,
          prompts: ["Once upon a time", 'The little dog'],
          big: 1_000_000,
        });
        """;

    private static readonly IReadOnlyList<RecipeParameter> Read = RecipeParameterReader.Read(Recipe);

    private static RecipeParameter P(string name) => Read.Single(p => p.Name == name);

    [Fact]
    public void Finds_every_parameter_in_declaration_order()
    {
        Assert.Equal(["model", "steps", "learningRate", "r", "lora_dropout", "negative", "targets", "bf16", "schedule", "seed", "name", "plain", "prompts", "big"],
            Read.Select(p => p.Name));
    }

    [Fact]
    public void Literal_defaults_are_typed_and_spelled_as_set_would_take_them()
    {
        Assert.Equal(new RecipeParameter("model", RecipeParameterKind.String, "models/stories260k", "the model folder"), P("model"));
        Assert.Equal(new RecipeParameter("steps", RecipeParameterKind.Number, "40", "optimizer steps"), P("steps"));
        Assert.Equal((RecipeParameterKind.Number, "3e-4"), (P("learningRate").Kind, P("learningRate").Default));
        Assert.Equal((RecipeParameterKind.Number, "-1.5"), (P("negative").Kind, P("negative").Default));
        Assert.Equal((RecipeParameterKind.Number, "1000000"), (P("big").Kind, P("big").Default));
        Assert.Equal((RecipeParameterKind.Boolean, "false"), (P("bf16").Kind, P("bf16").Default));
        Assert.Equal(new RecipeParameter("targets", RecipeParameterKind.Array, "[\"q_proj\",\"v_proj\"]", "modules to adapt"), P("targets"));
        Assert.Equal((RecipeParameterKind.Object, "{\"warmup\":10,\"kind\":\"cosine\"}"), (P("schedule").Kind, P("schedule").Default));
        Assert.Equal((RecipeParameterKind.String, "as is"), (P("plain").Kind, P("plain").Default));
        Assert.Equal("[\"Once upon a time\",\"The little dog\"]", P("prompts").Default);
        Assert.Equal("0.05", P("lora_dropout").Default);
    }

    [Fact]
    public void Computed_defaults_are_kept_as_source()
    {
        Assert.Equal(new RecipeParameter("seed", RecipeParameterKind.Expression, "Date.now() % 1000", "computed"), P("seed"));
        Assert.Equal((RecipeParameterKind.Expression, "`run-${8}`"), (P("name").Kind, P("name").Default));
    }

    [Theory]
    [InlineData("import { log } from \"peft\"; log(1);")]
    [InlineData("const p = defineParams(defaults);")]
    [InlineData("")]
    public void A_recipe_without_a_literal_declaration_has_no_parameters(string source) =>
        Assert.Empty(RecipeParameterReader.Read(source));

    [Fact]
    public void Every_bundled_recipe_declares_literal_parameters_the_form_accepts()
    {
        var recipes = new RecipeCatalog(Path.Combine(Support.TestPaths.RepoRoot, "recipes")).List();
        Assert.NotEmpty(recipes);
        foreach (var recipe in recipes)
        {
            var parameters = RecipeParameterReader.Read(RecipeCatalog.ReadSource(recipe.Path));
            Assert.True(parameters.Count > 0, $"{recipe.Name}: no parameters read");
            Assert.DoesNotContain(parameters, p => p.Kind == RecipeParameterKind.Expression);
            var form = new PeftHost.Cli.Dashboard.ViewModels.RecipeParameterForm(parameters);
            Assert.Empty(form.Errors);
            Assert.Empty(form.SetValues());
            Assert.NotEqual("", recipe.Summary);
        }
    }

    [Fact]
    public void A_one_line_declaration_and_a_trailing_comment_without_comma_are_read()
    {
        var ps = RecipeParameterReader.Read("const p = defineParams({ a: 1, b: \"x\" });\nconst q = defineParams({\n  c: true // last one\n});");
        Assert.Equal(["a", "b"], ps.Select(p => p.Name));
        var last = RecipeParameterReader.Read("defineParams({\n  c: true // last one\n})");
        Assert.Equal(new RecipeParameter("c", RecipeParameterKind.Boolean, "true", "last one"), Assert.Single(last));
    }

    [Fact]
    public void Strings_and_comments_that_look_like_code_read_as_the_runtime_reads_them()
    {
        var ps = RecipeParameterReader.Read("""
            // defineParams({ inAComment: 1 })
            const decoy = "defineParams({ inAString: 2 })";
            const t = `defineParams({ inATemplate: 3 })`;
            const re = /defineParams\({ inARegex: 4 }/;
            const p = defineParams({
              open: "{ not a brace",          // a string with a brace
              close: '} nor this, // nor a comment',
              path: "a/*b*/c",                /* a block comment */
              nested: { a: { b: [1, { c: "}" }] }, d: -2 }, // nested
              quoted: "say \"hi\" // still the string",
              "spaced key": 1, next: 2,       // next's comment, not spaced key's
              hex: 0x10,
              esc: "tab\there",
            });
            const later = defineParams({ ignored: true });
            """);
        Assert.Equal(["open", "close", "path", "nested", "quoted", "spaced key", "next", "hex", "esc"], ps.Select(p => p.Name));
        Assert.Equal(new RecipeParameter("open", RecipeParameterKind.String, "{ not a brace", "a string with a brace"), ps[0]);
        Assert.Equal(new RecipeParameter("close", RecipeParameterKind.String, "} nor this, // nor a comment"), ps[1]);
        Assert.Equal(new RecipeParameter("path", RecipeParameterKind.String, "a/*b*/c"), ps[2]);
        Assert.Equal(new RecipeParameter("nested", RecipeParameterKind.Object, "{\"a\":{\"b\":[1,{\"c\":\"}\"}]},\"d\":-2}", "nested"), ps[3]);
        Assert.Equal("say \"hi\" // still the string", ps[4].Default);
        Assert.Null(ps[4].Description);
        Assert.Null(ps[5].Description);
        Assert.Equal("next's comment, not spaced key's", ps[6].Description);
        Assert.Equal((RecipeParameterKind.Number, "16"), (ps[7].Kind, ps[7].Default));
        Assert.Equal("tab\there", ps[8].Default);
    }

    [Fact]
    public void Shorthand_spread_and_methods_are_kept_as_source_or_skipped()
    {
        var ps = RecipeParameterReader.Read("""
            const steps = 10;
            const base = { r: 4 };
            const p = defineParams({ ...base, steps, scale: 2 * steps, pick() { return 1; } });
            """);
        Assert.Equal(["steps", "scale", "pick"], ps.Select(p => p.Name));
        Assert.Equal((RecipeParameterKind.Expression, "steps"), (ps[0].Kind, ps[0].Default));
        Assert.Equal((RecipeParameterKind.Expression, "2 * steps"), (ps[1].Kind, ps[1].Default));
        Assert.Equal(RecipeParameterKind.Expression, ps[2].Kind);
    }

    [Fact]
    public void A_recipe_that_does_not_parse_declares_nothing()
    {
        Assert.Empty(RecipeParameterReader.Read("const p = defineParams({ steps: 3 );"));
    }
}
