using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Core.Chat;

namespace PeftHost.Cli.Dashboard.ViewModels;

/// <summary>
/// The Recipes panel's dataset chooser: the data files of the workspace, or a typed path, and a
/// preview of the first examples of the one chosen; picking it sets the recipe's dataset field.
/// Chat examples are rendered with the chat template of the model the recipe names (its
/// <c>model</c> field), else of the dashboard's model.
/// </summary>
/// <param name="catalog">The workspace's data files.</param>
/// <param name="dashboardModel">The folder of the model the dashboard has open, or null.</param>
public sealed class DatasetPickerViewModel(DatasetCatalog catalog, Func<string?> dashboardModel)
{
    /// <summary>How many examples the preview shows.</summary>
    public const int PreviewCount = 3;

    private RecipeParameterField? _field;
    private RecipeParameterForm? _form;
    private string _path = "";

    /// <summary>The data files (workspace-relative), read when the chooser opens.</summary>
    public IReadOnlyList<string> Files { get; private set; } = [];

    /// <summary>The field the chooser fills, while open; null when closed.</summary>
    public RecipeParameterField? Field => _field;

    /// <summary>True while the chooser shows.</summary>
    public bool IsOpen => _field is not null;

    /// <summary>The index of <see cref="Path"/> in <see cref="Files"/>, or -1 for a path typed outside <c>data/</c>.</summary>
    public int SelectedIndex => Files.ToList().IndexOf(_path);

    /// <summary>The path being previewed (as the recipe will get it); setting it (a typed path) previews that file.</summary>
    public string Path
    {
        get => _path;
        set
        {
            if (value == _path) return;
            _path = value;
            Preview = _path.Trim().Length == 0 ? new DatasetPreview(null, [], "type a path or choose a file", null) : Read(_path);
        }
    }

    /// <summary>The preview of <see cref="Path"/>.</summary>
    public DatasetPreview Preview { get; private set; } = new(null, [], null, null);

    /// <summary>
    /// Opens the chooser for <paramref name="form"/>'s dataset field <paramref name="field"/> (its first
    /// one when null), starting at the field's value; false when the form has no dataset field.
    /// </summary>
    public bool Open(RecipeParameterForm form, RecipeParameterField? field = null)
    {
        field ??= form.DatasetFields.FirstOrDefault();
        if (field is null || !field.Parameter.IsDataset) return false;
        _form = form;
        _field = field;
        Files = catalog.List();
        _path = "";
        Path = field.Value;
        return true;
    }

    /// <summary>Previews the file at <paramref name="index"/> in <see cref="Files"/>.</summary>
    public void Select(int index)
    {
        if (index >= 0 && index < Files.Count) Path = Files[index];
    }

    /// <summary>Sets the dataset field to <see cref="Path"/> and closes; refused (with the reason) when the file cannot be read.</summary>
    public CommandResult Pick()
    {
        if (_field is not { } field) return CommandResult.Refused("no dataset chooser is open");
        if (Preview.Error is { } error) return CommandResult.Refused($"cannot use {_path}: {error}");
        if (_path.Trim().Length == 0) return CommandResult.Refused("choose a file or type a path first");
        field.Value = _path.Trim();
        Close();
        return CommandResult.Ok($"{field.Parameter.Name} = {field.Value}");
    }

    /// <summary>Closes without changing the field.</summary>
    public void Close()
    {
        _field = null;
        _form = null;
    }

    /// <summary>The preview as text lines for a pane (header, note or error, then each example under its origin).</summary>
    public IReadOnlyList<string> PreviewLines()
    {
        var p = Preview;
        var lines = new List<string>();
        if (p.Error is { } error) return [$"✗ {error}"];
        lines.Add(p.Format is null ? _path : $"{_path} · {p.Format} · first {p.Examples.Count}");
        if (p.Note is { } note) lines.Add(note);
        foreach (var (origin, text) in p.Examples)
        {
            lines.Add($"── {origin} ──");
            lines.AddRange(text.Split('\n'));
        }
        return lines;
    }

    private DatasetPreview Read(string path)
    {
        var (template, problem) = ChatTemplateFor();
        return DatasetPreview.Read(catalog.Resolve(path), PreviewCount, template, problem);
    }

    /// <summary>The chat template of the recipe's <c>model</c> field when it names a folder, else of the dashboard's model.</summary>
    private (ChatTemplate? Template, string? Problem) ChatTemplateFor()
    {
        string? folder = null;
        if (_form?.Fields.FirstOrDefault(f => f.Parameter.Name == "model") is { } model && Directory.Exists(catalog.Resolve(model.Value)))
            folder = catalog.Resolve(model.Value);
        folder ??= dashboardModel();
        if (folder is null) return (null, "no model to take a chat template from");
        try
        {
            return ChatTemplate.ForModel(folder, null) is { } template
                ? (template, null)
                : (null, $"{System.IO.Path.GetFileName(folder.TrimEnd('/'))} has no chat template");
        }
        catch (ChatTemplateException e) { return (null, e.Message); }
    }
}
