using System.Collections.ObjectModel;
using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Adapters panel: the model, its adapters (active one starred), and the actions — activate,
/// disable, merge/unmerge, save to a folder, export an adapter folder merged into a fresh copy of the model as a
/// GGUF, load a folder (both fields start at the adapter the last run left: its saved adapter, or the newest
/// checkpoint of a stopped run) — and the model itself, opened from a folder. Keys a, d, m, s, e, l, o do the same
/// when no text field has focus.
/// </summary>
public sealed class AdaptersPanel : FrameView
{
    private readonly AdaptersViewModel _vm;
    private readonly Action<CommandResult> _report;
    private readonly LinesView _model = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly LinesView _header = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = 1 };
    private readonly ObservableCollection<string> _rows = [];
    private readonly ListView _list = new() { X = 0, Y = 2, Width = Dim.Fill(), Height = Dim.Fill(6) };
    private readonly TextField _saveFolder = new() { Width = Dim.Fill(), Text = "adapters/" };
    private readonly TextField _loadFolder = new() { Width = Dim.Fill(), Text = "" };
    private readonly TextField _modelFolder = new() { Width = Dim.Fill(), Text = "" };
    private readonly TextField _exportFolder = new() { Width = Dim.Fill(), Text = "" };

    /// <summary>Builds the panel; results of actions go to <paramref name="report"/>.</summary>
    public AdaptersPanel(AdaptersViewModel vm, Action<CommandResult> report)
    {
        _vm = vm;
        _report = report;
        Title = "Adapters";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _list.SetSource(_rows);
        _list.ValueChanged += (_, e) => _vm.SelectedIndex = e.NewValue ?? -1;
        // Up on the first row (Down on the last) would move focus into the folder fields, where the
        // action letters that follow would become text: the list keeps focus at its ends.
        _list.KeyDown += (_, key) =>
        {
            int last = _rows.Count - 1;
            if ((key == Key.CursorUp && (_list.SelectedItem ?? 0) <= 0) || (key == Key.CursorDown && (_list.SelectedItem ?? last) >= last))
                key.Handled = true;
        };

        var activate = Button("_Activate", () => _vm.SetActive());
        var disable = Button("_Disable/enable", () => _vm.ToggleDisabled());
        var merge = Button("_Merge/unmerge", () => _vm.ToggleMerge());
        activate.X = 0;
        disable.X = Pos.Right(activate) + 1;
        merge.X = Pos.Right(disable) + 1;
        foreach (var b in new[] { activate, disable, merge }) b.Y = Pos.AnchorEnd(5);

        // Each folder action is a button with its folder field beside it; Enter in the field presses the button.
        var save = FolderRow("_Save to", _saveFolder, 4, () => _vm.Save(_saveFolder.Text));
        var export = FolderRow("_Export GGUF", _exportFolder, 3, () => _vm.ExportGguf(_exportFolder.Text));
        var load = FolderRow("_Load from", _loadFolder, 2, () => _vm.Load(_loadFolder.Text));
        var open = FolderRow("_Open model", _modelFolder, 1, () => _vm.OpenModel(_modelFolder.Text));

        Add(_model, _header, _list, activate, disable, merge, save, _saveFolder, export, _exportFolder, load, _loadFolder, open, _modelFolder);
    }

    /// <summary>The view focused when the panel is shown: the adapter list, which the action letters act on.</summary>
    public View MainAction => _list;

    /// <summary>
    /// Points the Load and Export fields at the adapter folder a run left (its saved adapter, or the newest checkpoint
    /// of a stopped run), so <c>l</c> loads it and <c>e</c> exports it.
    /// </summary>
    public void OfferFolder(string folder)
    {
        // Relative to the current folder when inside it, so the path fits the field at 80 columns.
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), folder);
        string shown = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? folder : relative;
        _loadFolder.Text = shown;
        _exportFolder.Text = shown;
    }

    /// <summary>Handles a, d, m, s, e, l, o (when no text field has focus); true when the key was one of them.</summary>
    public bool HandleLetter(char letter)
    {
        CommandResult? result = char.ToLowerInvariant(letter) switch
        {
            'a' => _vm.SetActive(),
            'd' => _vm.ToggleDisabled(),
            'm' => _vm.ToggleMerge(),
            's' => _vm.Save(_saveFolder.Text),
            'e' => _vm.ExportGguf(_exportFolder.Text),
            'l' => _vm.Load(_loadFolder.Text),
            'o' => _vm.OpenModel(_modelFolder.Text),
            _ => null,
        };
        if (result is null) return false;
        _report(result);
        return true;
    }

    /// <summary>Redraws from the view-model.</summary>
    public void Refresh()
    {
        int width = Math.Max(20, Viewport.Width);
        _model.Lines = [DisplayFormat.Fit(_vm.ModelText, width).TrimEnd()];
        // The model field starts at the model opened at start-up, to edit into another folder.
        if (_modelFolder.Text.Length == 0 && _vm.Model.ModelPath is { } path) _modelFolder.Text = path;
        _header.Lines = [_vm.Model.Adapters.Count == 0 ? "no adapters: load a PEFT adapter folder below, or run a recipe that saves one" : "  NAME           METHOD                 PARAMETERS"];
        ListSync.Update(_rows, _vm.FormatRows(width));
        if (_rows.Count > 0 && _vm.SelectedIndex >= 0 && _list.SelectedItem != _vm.SelectedIndex) _list.SelectedItem = _vm.SelectedIndex;
    }

    /// <summary>A button at the left of the row <paramref name="rowsFromEnd"/> rows above the panel's bottom, its folder field beside it.</summary>
    private FlatButton FolderRow(string label, TextField folder, int rowsFromEnd, Func<CommandResult> action)
    {
        var button = Button(label, action);
        button.X = 0;
        button.Y = Pos.AnchorEnd(rowsFromEnd);
        folder.X = Pos.Right(button) + 1;
        folder.Y = Pos.AnchorEnd(rowsFromEnd);
        folder.KeyDown += (_, key) =>
        {
            if (key != Key.Enter) return;
            _report(action());
            key.Handled = true;
        };
        return button;
    }

    private FlatButton Button(string text, Func<CommandResult> action)
    {
        var button = new FlatButton { Text = text };
        button.Accepting += (_, e) =>
        {
            _report(action());
            e.Handled = true;
        };
        return button;
    }
}
