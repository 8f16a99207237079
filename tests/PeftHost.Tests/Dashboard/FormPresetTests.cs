using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Dashboard;

/// <summary>Saved form presets: the Recipes form saved under a name (its changed values, written atomically) and loaded back.</summary>
public sealed class FormPresetTests : IDisposable
{
    private readonly TempDir _dir = new();

    public FormPresetTests()
    {
        Directory.CreateDirectory(_dir["recipes"]);
        File.WriteAllText(_dir["recipes/tiny.js"], """const p = defineParams({ steps: 40, r: 8, note: "hi there", dataset: "data/a.txt" });""");
        File.WriteAllText(_dir["recipes/other.js"], """const p = defineParams({ steps: 5 });""");
    }

    public void Dispose() => _dir.Dispose();

    private RecipesViewModel Recipes()
    {
        var vm = new RecipesViewModel(new RecipeCatalog(_dir["recipes"]), new FormPresets(_dir[".pefthost/presets"]));
        vm.Refresh();
        Assert.True(vm.Select("tiny.js"));
        return vm;
    }

    [Fact]
    public void A_saved_preset_loads_back_into_a_fresh_dashboard_over_other_edits()
    {
        var vm = Recipes();
        vm.Form["steps"].Value = "12";
        vm.Form["note"].Value = " spaced ";
        var saved = vm.SavePreset("quick test");
        Assert.True(saved.Started, saved.Message);
        Assert.Contains("saved preset 'quick test' of tiny.js (2 changed values)", saved.Message);
        Assert.True(File.Exists(_dir[".pefthost/presets/tiny.json"]));
        Assert.Empty(Directory.GetFiles(_dir[".pefthost/presets"], "*.tmp*")); // written through a temporary file, renamed

        var fresh = Recipes(); // as after a restart
        fresh.Form["r"].Value = "64";
        Assert.Equal(["quick test"], fresh.PresetNames());
        Assert.True(fresh.LoadPreset("quick test").Started);
        Assert.Equal(["steps=12", "note= spaced "], fresh.Form.SetValues()); // r is back at its default
        Assert.True(fresh.Select("other.js"));
        Assert.Empty(fresh.PresetNames()); // presets are per recipe
    }

    [Fact]
    public void Saving_again_replaces_that_preset_and_keeps_the_others()
    {
        var vm = Recipes();
        vm.Form["steps"].Value = "1";
        vm.SavePreset("a");
        vm.Form["steps"].Value = "2";
        vm.SavePreset("b");
        vm.Form["steps"].Value = "3";
        vm.SavePreset("a");
        Assert.Equal(["a", "b"], vm.PresetNames());
        vm.LoadPreset("b");
        Assert.Equal(["steps=2"], vm.Form.SetValues());
        vm.LoadPreset("a");
        Assert.Equal(["steps=3"], vm.Form.SetValues());
    }

    [Fact]
    public void Bad_names_forms_and_files_are_refused_with_the_reason_and_nothing_is_written()
    {
        var vm = Recipes();
        Assert.Contains("a preset needs a name", vm.SavePreset("  ").Message);
        vm.Form["steps"].Value = "many";
        Assert.Equal("fix the form first: steps: a number (default 40)", vm.SavePreset("x").Message);
        Assert.False(Directory.Exists(_dir[".pefthost/presets"]));
        Assert.Equal("tiny.js has no preset 'nope'", vm.LoadPreset("nope").Message);

        Directory.CreateDirectory(_dir[".pefthost/presets"]);
        File.WriteAllText(_dir[".pefthost/presets/tiny.json"], """{ "a": { "steps": 12 } }""");
        vm.Form["steps"].Value = "4";
        var refused = vm.LoadPreset("a");
        Assert.False(refused.Started);
        Assert.Contains("tiny.json: preset \"a\", key \"steps\": expected a string", refused.Message);
        Assert.Equal(["steps=4"], vm.Form.SetValues()); // the form is untouched
        Assert.False(vm.SavePreset("b").Started);
        Assert.Equal("""{ "a": { "steps": 12 } }""", File.ReadAllText(_dir[".pefthost/presets/tiny.json"]));
    }

    [Fact]
    public void Values_for_parameters_the_recipe_no_longer_declares_are_named_not_applied()
    {
        var vm = Recipes();
        vm.Form["r"].Value = "4";
        vm.Form["steps"].Value = "9";
        vm.SavePreset("old");
        File.WriteAllText(_dir["recipes/tiny.js"], """const p = defineParams({ steps: 40 });""");
        var fresh = Recipes();
        var loaded = fresh.LoadPreset("old");
        Assert.True(loaded.Started);
        Assert.EndsWith("tiny.js no longer declares r: not applied", loaded.Message);
        Assert.Equal(["steps=9"], fresh.Form.SetValues());
    }
}
