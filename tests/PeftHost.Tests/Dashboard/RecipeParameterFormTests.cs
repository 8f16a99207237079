using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>The parameter form: defaults in, --set values out; the Recipes panel's listing and selection.</summary>
public sealed class RecipeParameterFormTests
{
    private static RecipeParameterForm Form() => new(RecipeParameterReader.Read("""
        const p = defineParams({ model: "models/stories260k", steps: 40, learningRate: 3e-4, bf16: false, targets: ["q_proj", "v_proj"], schedule: { warmup: 2 } });
        """));

    [Fact]
    public void Untouched_defaults_give_no_set_values()
    {
        var form = Form();
        Assert.Empty(form.SetValues());
        Assert.Empty(form.Errors);
        Assert.Equal("peft run recipes/lora.js", form.CommandLine("recipes/lora.js"));
    }

    [Fact]
    public void Changed_fields_become_set_values_in_declaration_order()
    {
        var form = Form();
        form["learningRate"].Value = "1e-3";
        form["steps"].Value = " 12 ";
        form["targets"].Value = "q_proj,k_proj,v_proj";
        form["model"].Value = "models/my model";
        Assert.Equal(["model=models/my model", "steps=12", "learningRate=1e-3", "targets=q_proj,k_proj,v_proj"], form.SetValues());
        Assert.Equal("peft run recipes/lora.js --set 'model=models/my model' --set steps=12 --set learningRate=1e-3 --set targets=q_proj,k_proj,v_proj",
            form.CommandLine("recipes/lora.js"));

        form.Reset();
        Assert.Empty(form.SetValues());
    }

    [Fact]
    public void Values_that_do_not_fit_the_declared_type_are_errors()
    {
        var form = Form();
        form["steps"].Value = "many";
        form["bf16"].Value = "yes";
        form["schedule"].Value = "{ warmup: 2 }";
        form["targets"].Value = "[\"q_proj\"";
        Assert.Equal(
        [
            "steps: a number (default 40)",
            "bf16: true or false",
            "targets: a JSON array, or values separated by commas",
            "schedule: a JSON object like {\"warmup\":2}",
        ], form.Errors);
        form["schedule"].Value = "{\"warmup\": 5}";
        form["targets"].Value = "[\"q_proj\"]";
        form["steps"].Value = "8";
        form["bf16"].Value = "true";
        Assert.Empty(form.Errors);
    }

    [Fact]
    public void The_recipes_panel_lists_the_folder_and_keeps_edits_across_refreshes()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["b.js"], "// Second recipe.\nconst p = defineParams({ n: 1 });");
        File.WriteAllText(dir["a.js"], "// First recipe: generation.\n// more words\nconst p = defineParams({ prompt: \"hi\", steps: 3 });");
        File.WriteAllText(dir["notes.txt"], "not a recipe");
        var vm = new RecipesViewModel(new RecipeCatalog(dir.Path));
        vm.Refresh();

        Assert.Equal(["a.js — First recipe: generation.", "b.js — Second recipe."], vm.FormatList());
        Assert.Equal("a.js", vm.Selected?.Name);
        Assert.Equal(["prompt", "steps"], vm.Form.Fields.Select(f => f.Parameter.Name));
        vm.Form["steps"].Value = "9";
        vm.Refresh();
        Assert.Equal(["steps=9"], vm.Form.SetValues());

        Assert.True(vm.Select("b.js"));
        Assert.Equal(["n"], vm.Form.Fields.Select(f => f.Parameter.Name));
        Assert.Contains("defineParams({ n: 1 })", vm.Source);
        Assert.False(vm.Select("missing.js"));
    }

    [Fact]
    public void A_missing_folder_has_no_recipes()
    {
        var vm = new RecipesViewModel(new RecipeCatalog("/no/such/folder"));
        vm.Refresh();
        Assert.Empty(vm.Recipes);
        Assert.Null(vm.Selected);
        Assert.Empty(vm.Form.Fields);
    }

    [Fact]
    public void Form_edits_are_kept_per_recipe_when_the_selection_moves_off_and_back()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.js"], "// A.\nconst p = defineParams({ steps: 3 });");
        File.WriteAllText(dir["b.js"], "// B.\nconst p = defineParams({ n: 1 });");
        var vm = new RecipesViewModel(new RecipeCatalog(dir.Path));
        vm.Refresh();
        vm.Form["steps"].Value = "30";
        Assert.True(vm.Select("b.js"));
        vm.Form["n"].Value = "7";
        Assert.True(vm.Select("a.js"));
        Assert.Equal(["steps=30"], vm.Form.SetValues());
        Assert.True(vm.Select("b.js"));
        Assert.Equal(["n=7"], vm.Form.SetValues());

        // A recipe whose declared parameters changed on disk gets a fresh form.
        File.WriteAllText(dir["a.js"], "// A.\nconst p = defineParams({ steps: 3, r: 8 });");
        Assert.True(vm.Select("a.js"));
        Assert.Empty(vm.Form.SetValues());
        Assert.Equal(["steps", "r"], vm.Form.Fields.Select(f => f.Parameter.Name));
    }

    [Theory]
    [InlineData(78, 26)]
    [InlineData(118, 39)]
    [InlineData(60, 24)]
    [InlineData(300, 60)]
    public void The_recipe_list_takes_a_third_of_the_width_within_bounds(int panelWidth, int listWidth) =>
        Assert.Equal(listWidth, RecipesViewModel.ListWidth(panelWidth));

    [Fact]
    public void The_command_line_wraps_into_shell_rows_that_paste_as_one_command()
    {
        var form = Form();
        form["learningRate"].Value = "1e-3";
        form["steps"].Value = "12";
        form["targets"].Value = "q_proj,k_proj,v_proj";
        form["model"].Value = "models/my model";
        var rows = form.CommandRows("recipes/lora.js", 40);
        Assert.Equal(
        [
            "$ peft run recipes/lora.js \\",
            "  --set 'model=models/my model' \\",
            "  --set steps=12 \\",
            "  --set learningRate=1e-3 \\",
            "  --set targets=q_proj,k_proj,v_proj",
        ], rows);
        Assert.All(rows, r => Assert.True(r.Length <= 40, r));
        // Joined as a shell joins continuation lines, the rows are the one-line command.
        Assert.Equal("$ " + form.CommandLine("recipes/lora.js"), string.Join(" ", rows.Select(r => r.TrimEnd('\\').Trim())));
        Assert.Equal(["$ " + form.CommandLine("recipes/lora.js")], form.CommandRows("recipes/lora.js", 200));
    }
}
