using PeftHost.Cli.Dashboard.Recipes;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// The Recipes panel: the recipes in the folder, the selected recipe's source and its parameter
/// form (from the declared defaults). Each recipe keeps its own form, so edits survive moving the
/// selection off a recipe and back (until the recipe's declared parameters change on disk).
/// </summary>
/// <param name="catalog">The recipes folder.</param>
/// <param name="presets">Where named forms are saved (<see cref="SavePreset"/>); null: presets are not offered.</param>
public sealed class RecipesViewModel(RecipeCatalog catalog, FormPresets? presets = null)
{
    private readonly Dictionary<string, RecipeParameterForm> _forms = new(StringComparer.Ordinal);
    private IReadOnlyList<RecipeEntry> _recipes = [];
    private int _selectedIndex = -1;

    /// <summary>The folder the recipes come from.</summary>
    public string Folder => catalog.Folder;

    /// <summary>The recipes, sorted by name.</summary>
    public IReadOnlyList<RecipeEntry> Recipes => _recipes;

    /// <summary>The selected recipe, or null.</summary>
    public RecipeEntry? Selected => _selectedIndex >= 0 && _selectedIndex < _recipes.Count ? _recipes[_selectedIndex] : null;

    /// <summary>The selected recipe's source (empty when none is selected).</summary>
    public string Source { get; private set; } = "";

    /// <summary>The selected recipe's parameter form (no fields when none is selected or none are declared).</summary>
    public RecipeParameterForm Form { get; private set; } = new([]);

    /// <summary>The selected index, or -1; setting it loads that recipe's source and form.</summary>
    public int SelectedIndex
    {
        get => _selectedIndex;
        set
        {
            int index = _recipes.Count == 0 ? -1 : Math.Clamp(value, 0, _recipes.Count - 1);
            if (index == _selectedIndex && Selected is not null) return;
            _selectedIndex = index;
            Source = Selected is null ? "" : RecipeCatalog.ReadSource(Selected.Path);
            Form = Selected is null ? new RecipeParameterForm([]) : FormFor(Selected.Path, RecipeParameterReader.Read(Source));
        }
    }

    /// <summary>The recipe list's width in a panel <paramref name="panelWidth"/> columns wide: a third, between 24 and 60 columns.</summary>
    public static int ListWidth(int panelWidth) => Math.Clamp(panelWidth / 3, 24, 60);

    /// <summary>Re-reads the folder, keeping the selection on the same file when it is still there.</summary>
    public void Refresh()
    {
        string? selected = Selected?.Path;
        _recipes = catalog.List();
        int index = selected is null ? -1 : _recipes.ToList().FindIndex(r => r.Path == selected);
        if (index >= 0)
        {
            _selectedIndex = index; // the same recipe: keep its source and the form's edits
            return;
        }
        _selectedIndex = -1;
        SelectedIndex = 0;
    }

    /// <summary>Selects the recipe named <paramref name="name"/> (file name); false when there is none.</summary>
    public bool Select(string name)
    {
        int index = _recipes.ToList().FindIndex(r => string.Equals(r.Name, name, StringComparison.Ordinal));
        if (index < 0) return false;
        SelectedIndex = index;
        return true;
    }

    /// <summary>The form kept for <paramref name="path"/>, or a new one when there is none or its parameters changed.</summary>
    private RecipeParameterForm FormFor(string path, IReadOnlyList<RecipeParameter> parameters)
    {
        if (_forms.TryGetValue(path, out var kept) && kept.Fields.Select(f => f.Parameter).SequenceEqual(parameters)) return kept;
        return _forms[path] = new RecipeParameterForm(parameters);
    }

    /// <summary>The presets saved for the selected recipe (empty when none, or when its presets file is unreadable: <see cref="LoadPreset"/> says why).</summary>
    public IReadOnlyList<string> PresetNames()
    {
        if (presets is null || Selected is null) return [];
        try { return presets.Names(Selected.Name); }
        catch (FormatException) { return []; }
    }

    /// <summary>Saves the selected recipe's form (its changed values) as preset <paramref name="name"/>.</summary>
    public CommandResult SavePreset(string name)
    {
        if (presets is null) return CommandResult.Refused("presets are not available here");
        if (Selected is not { } recipe) return CommandResult.Refused("no recipe selected");
        if (Form.Errors is { Count: > 0 } errors) return CommandResult.Refused("fix the form first: " + errors[0]);
        var values = Form.Fields.Where(f => f.IsChanged).ToDictionary(f => f.Parameter.Name, f => f.Parameter.Kind == RecipeParameterKind.String ? f.Value : f.Value.Trim());
        try { presets.Save(recipe.Name, name, values); }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            return CommandResult.Refused($"preset not saved: {e.Message}");
        }
        return CommandResult.Ok($"saved preset '{name.Trim()}' of {recipe.Name} ({values.Count} changed value{(values.Count == 1 ? "" : "s")}) in {presets.FileOf(recipe.Name)}");
    }

    /// <summary>
    /// Puts preset <paramref name="name"/> into the selected recipe's form: every field back to its
    /// default, then the preset's values; values for parameters the recipe no longer declares are named, not applied.
    /// </summary>
    public CommandResult LoadPreset(string name)
    {
        if (presets is null) return CommandResult.Refused("presets are not available here");
        if (Selected is not { } recipe) return CommandResult.Refused("no recipe selected");
        IReadOnlyDictionary<string, string>? values;
        try { values = presets.Read(recipe.Name, name); }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            return CommandResult.Refused($"presets not read: {e.Message}");
        }
        if (values is null) return CommandResult.Refused($"{recipe.Name} has no preset '{name}'");
        Form.Reset();
        var stale = new List<string>();
        foreach (var (key, value) in values)
        {
            if (Form.Fields.FirstOrDefault(f => f.Parameter.Name == key) is { } field) field.Value = value;
            else stale.Add(key);
        }
        return CommandResult.Ok($"loaded preset '{name}' into {recipe.Name}" +
            (stale.Count == 0 ? "" : $"; {recipe.Name} no longer declares {string.Join(", ", stale)}: not applied"));
    }

    /// <summary>The recipes as list lines: <c>lora.js — LoRA on stories260k</c>.</summary>
    public IReadOnlyList<string> FormatList() =>
        _recipes.Select(r => r.Summary.Length == 0 ? r.Name : $"{r.Name} — {r.Summary}").ToList();
}
