using System.Collections.ObjectModel;
using PeftHost.Cli.Dashboard.Recipes;
using PeftHost.Cli.Dashboard.ViewModels;
using PeftHost.Core.Recipes;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Recipes panel: the recipes folder on the left (a third of the width); the selected recipe's
/// source and a form for its declared parameters on the right, with the equivalent <c>peft run</c>
/// line shown whole (wrapped into shell rows ending in <c>\</c>) and a Run button. For a recipe with
/// a dataset parameter, <c>d</c> (or Dataset…) puts the dataset chooser in place of the source and
/// form: the data files, a typed path and a preview of the first examples; Enter picks, Esc closes.
/// </summary>
public sealed class RecipesPanel : FrameView
{
    private const int MaxFormRows = 8;
    private const int MaxCommandRows = 4;
    private readonly RecipesViewModel _vm;
    private readonly ObservableCollection<string> _names = [];
    private readonly ListView _list = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly FrameView _listFrame = new() { TabStop = TabBehavior.TabStop, Title = "recipes/", X = 0, Y = 0, Height = Dim.Fill() };
    private readonly FrameView _sourceFrame = new() { TabStop = TabBehavior.TabStop, Title = "source", Y = 0, Width = Dim.Fill() };
    private readonly TextPane _source = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly FrameView _formFrame = new() { TabStop = TabBehavior.TabStop, Title = "parameters — y copies the command", Width = Dim.Fill() };
    private readonly View _fields = new() { X = 0, Y = 0, Width = Dim.Fill(), CanFocus = true };
    private readonly LinesView _commandLine = new() { X = 0, Width = Dim.Fill(), Height = 1 };
    private readonly FlatButton _resumeButton = new() { X = 0, Text = "Resume", Visible = false };
    private readonly LinesView _resumeRun = new() { Width = Dim.Fill(), Height = 1, Visible = false };
    private readonly Func<RecipeEntry, (string Folder, RunStatus Status)?> _interruptedRun;
    private readonly Func<CommandResult> _resume;
    private int _formRows = 1;
    private readonly List<(Label Label, TextField Input)> _fieldRows = [];
    private int _firstField;
    private string? _shownRecipe;
    private readonly DatasetPickerViewModel _datasets;
    private readonly Action<CommandResult> _report;
    private readonly FrameView _datasetFrame = new() { Title = "dataset — Enter picks, Esc closes", Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), Visible = false };
    private readonly TextField _datasetPath = new() { X = 5, Y = 0, Width = Dim.Fill() };
    private readonly ObservableCollection<string> _datasetNames = [];
    private readonly ListView _datasetList = new() { X = 0, Y = 1, Height = Dim.Fill() };
    private readonly TextPane _datasetPreview = new() { Y = 1, Width = Dim.Fill(), Height = Dim.Fill(), WordWrap = true };
    private readonly FrameView _presetFrame = new() { Title = "presets — Enter loads, Esc closes", Y = 0, Width = Dim.Fill(), Visible = false };
    private readonly TextField _presetName = new() { X = 0, Y = 1, Width = Dim.Fill() };
    private readonly ObservableCollection<string> _presetNames = [];
    private readonly ListView _presetList = new() { X = 0, Y = 3, Width = Dim.Fill(), Height = Dim.Fill() };

    /// <summary>
    /// Builds the panel; <paramref name="run"/> runs the selected recipe (F5 does the same),
    /// <paramref name="datasets"/> is the dataset chooser, <paramref name="report"/> shows a command's outcome;
    /// <paramref name="interruptedRun"/> finds a recipe's newest stopped or failed run, which <paramref name="resume"/>
    /// continues (Resume, or <c>r</c>).
    /// </summary>
    public RecipesPanel(RecipesViewModel vm, DatasetPickerViewModel datasets, Action run, Action<CommandResult> report,
        Func<RecipeEntry, (string Folder, RunStatus Status)?> interruptedRun, Func<CommandResult> resume)
    {
        _vm = vm;
        _interruptedRun = interruptedRun;
        _resume = resume;
        _datasets = datasets;
        _report = report;
        Title = "Recipes";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _listFrame.Width = RecipesViewModel.ListWidth(80);
        _sourceFrame.X = Pos.Right(_listFrame);
        _formFrame.X = Pos.Right(_listFrame);
        _listFrame.Add(_list);
        // The list takes a third of the width and the command line wraps to the form's: both follow resizes.
        FrameChanged += (_, e) => _listFrame.Width = RecipesViewModel.ListWidth(e.Value.Width);
        _formFrame.FrameChanged += (_, _) => UpdateCommandLine();
        _list.SetSource(_names);
        _list.ValueChanged += (_, e) =>
        {
            if (e.NewValue is int index && index != _vm.SelectedIndex)
            {
                _vm.SelectedIndex = index;
                ShowSelected();
            }
        };
        _sourceFrame.Add(_source);
        var runButton = new FlatButton { X = 0, Y = Pos.AnchorEnd(1), Text = "_Run (F5)" };
        runButton.Accepting += (_, e) => { run(); e.Handled = true; };
        var resetButton = new FlatButton { X = Pos.Right(runButton) + 1, Y = Pos.AnchorEnd(1), Text = "Reset" };
        resetButton.Accepting += (_, e) =>
        {
            _vm.Form.Reset();
            _shownRecipe = null;
            ShowSelected();
            e.Handled = true;
        };
        var datasetButton = new FlatButton { X = Pos.Right(resetButton) + 1, Y = Pos.AnchorEnd(1), Text = "_Dataset…" };
        datasetButton.Accepting += (_, e) => { _report(OpenDatasets()); e.Handled = true; };
        var presetsButton = new FlatButton { X = Pos.Right(datasetButton) + 1, Y = Pos.AnchorEnd(1), Text = "_Presets…" };
        presetsButton.Accepting += (_, e) => { OpenPresets(); e.Handled = true; };
        _resumeButton.Accepting += (_, e) => { _report(_resume()); e.Handled = true; };
        _resumeRun.X = Pos.Right(_resumeButton) + 1;
        _formFrame.Add(_fields, _commandLine, _resumeButton, _resumeRun, runButton, resetButton, datasetButton, presetsButton);
        BuildDatasetChooser();
        BuildPresets();
        Add(_listFrame, _sourceFrame, _formFrame, _datasetFrame, _presetFrame);
    }

    /// <summary>
    /// A letter typed with no text field focused: <c>d</c> opens the dataset chooser, <c>p</c> the presets, <c>r</c>
    /// resumes the recipe's interrupted run. True when handled.
    /// </summary>
    public bool HandleLetter(char letter)
    {
        if (_datasets.IsOpen || _presetFrame.Visible) return false;
        switch (letter)
        {
            case 'd': _report(OpenDatasets()); return true;
            case 'p': OpenPresets(); return true;
            case 'r': _report(_resume()); return true;
            default: return false;
        }
    }

    /// <summary>Esc: closes the dataset chooser (the field unchanged) or the presets; false when neither was open.</summary>
    public bool CloseOverlay()
    {
        if (_presetFrame.Visible)
        {
            ShowPresets(false);
            return true;
        }
        if (!_datasets.IsOpen) return false;
        _datasets.Close();
        ShowDatasetChooser(false);
        return true;
    }

    private void BuildPresets()
    {
        _presetFrame.X = Pos.Right(_listFrame);
        _presetFrame.Height = Dim.Height(_sourceFrame);
        _presetList.SetSource(_presetNames);
        _presetList.Accepting += (_, e) =>
        {
            if (_presetList.SelectedItem is int index && index < _vm.PresetNames().Count) Apply(_vm.LoadPreset(_vm.PresetNames()[index]));
            e.Handled = true;
        };
        _presetName.KeyDown += (_, key) =>
        {
            if (key != Key.Enter) return;
            Apply(_vm.SavePreset(_presetName.Text));
            key.Handled = true;
        };
        _presetFrame.Add(new Label { X = 0, Y = 0, Text = "save the form as (Enter):" }, _presetName,
            new Label { X = 0, Y = 2, Text = "saved presets (Enter loads):" }, _presetList);

        void Apply(CommandResult result)
        {
            _report(result);
            if (!result.Started) return;
            ShowPresets(false);
            _shownRecipe = null; // rebuild the form with the preset's values
            ShowSelected();
        }
    }

    private void OpenPresets()
    {
        if (_vm.Selected is null)
        {
            _report(CommandResult.Refused("no recipe selected"));
            return;
        }
        var names = _vm.PresetNames();
        ListSync.Update(_presetNames, names);
        // A list shown with no row selected takes Enter as nothing: the first preset starts selected.
        if (names.Count > 0) _presetList.SelectedItem = 0;
        _presetName.Text = "";
        ShowPresets(true);
        _report(CommandResult.Ok(names.Count == 0 ? $"no presets for {_vm.Selected.Name} yet: type a name, Enter saves the form"
            : $"{names.Count} preset{(names.Count == 1 ? "" : "s")} for {_vm.Selected.Name}: Enter loads one; Shift-Tab to the name to save"));
    }

    private void ShowPresets(bool visible)
    {
        _presetFrame.Visible = visible;
        _sourceFrame.Visible = !visible;
        if (visible) (_presetNames.Count > 0 ? (View)_presetList : _presetName).SetFocus();
        else _list.SetFocus();
        SetNeedsDraw();
    }

    private void BuildDatasetChooser()
    {
        _datasetFrame.X = Pos.Right(_listFrame);
        _datasetList.Width = Dim.Percent(40);
        _datasetPreview.X = Pos.Right(_datasetList) + 1;
        _datasetList.SetSource(_datasetNames);
        _datasetList.ValueChanged += (_, e) =>
        {
            if (e.NewValue is not int index || !_datasets.IsOpen || _datasets.SelectedIndex == index) return;
            _datasets.Select(index);
            _datasetPath.Text = _datasets.Path;
            ShowPreview();
        };
        _datasetList.Accepting += (_, e) => { PickDataset(); e.Handled = true; };
        _datasetPath.TextChanged += (_, _) =>
        {
            if (!_datasets.IsOpen || _datasetPath.Text == _datasets.Path) return;
            _datasets.Path = _datasetPath.Text;
            ShowPreview();
        };
        _datasetPath.KeyDown += (_, key) =>
        {
            if (key != Key.Enter) return;
            PickDataset();
            key.Handled = true;
        };
        _datasetFrame.Add(new Label { X = 0, Y = 0, Text = "path" }, _datasetPath, _datasetList, _datasetPreview);
    }

    private CommandResult OpenDatasets()
    {
        var focused = _fieldRows.FindIndex(r => r.Input.HasFocus);
        var field = focused >= 0 ? _vm.Form.Fields[focused] : null;
        if (!_datasets.Open(_vm.Form, field is { Parameter.IsDataset: true } ? field : null))
            return CommandResult.Refused(_vm.Selected is null ? "no recipe selected"
                : $"{_vm.Selected.Name} takes no dataset parameter (one named dataset, or defaulting to a path in data/)");
        ListSync.Update(_datasetNames, _datasets.Files.Count == 0 ? ["(no files in data/)"] : _datasets.Files);
        _datasetPath.Text = _datasets.Path;
        if (_datasets.SelectedIndex >= 0) _datasetList.SelectedItem = _datasets.SelectedIndex;
        ShowPreview();
        ShowDatasetChooser(true);
        return CommandResult.Ok($"choose the dataset for {_datasets.Field!.Parameter.Name}: ↑ ↓ preview, Enter picks, Tab to type a path, Esc closes");
    }

    private void PickDataset()
    {
        var result = _datasets.Pick();
        _report(result);
        if (!result.Started) return;
        ShowDatasetChooser(false);
        _shownRecipe = null; // rebuild the form with the picked value
        ShowSelected();
    }

    private void ShowPreview() => _datasetPreview.Text = string.Join("\n", _datasets.PreviewLines());

    private void ShowDatasetChooser(bool visible)
    {
        _datasetFrame.Visible = visible;
        _sourceFrame.Visible = _formFrame.Visible = !visible;
        (visible ? _datasetList : _list).SetFocus();
        SetNeedsDraw();
    }

    /// <summary>The selected recipe's <c>peft run … --set</c> command on one line, or null when there is none or the form has errors.</summary>
    public string? Command => _vm.Selected is { } recipe && _vm.Form.Errors.Count == 0 ? _vm.Form.CommandLine(RecipePath(recipe.Path)) : null;

    /// <summary>The view focused when the panel is shown: the recipe list (F5 runs the selected one), never a form field.</summary>
    public View MainAction => _list;

    /// <summary>Re-reads the folder and redraws.</summary>
    public void Refresh()
    {
        _vm.Refresh();
        ListSync.Update(_names, _vm.FormatList());
        if (_vm.SelectedIndex >= 0) _list.SelectedItem = _vm.SelectedIndex;
        ShowSelected();
    }

    /// <summary>Shows the selected recipe's source and builds its form (once per recipe).</summary>
    private void ShowSelected()
    {
        string? path = _vm.Selected?.Path;
        if (path != _shownRecipe)
        {
            _shownRecipe = path;
            _source.Text = _vm.Source;
            BuildForm();
        }
        RefreshResume();
        UpdateCommandLine();
    }

    /// <summary>
    /// Shows the Resume row when the selected recipe has a stopped or failed run in the runs folder (its folder and
    /// how it ended), hides it when not; called when a recipe is shown and when a run ends.
    /// </summary>
    public void RefreshResume()
    {
        var run = _vm.Selected is { } recipe ? _interruptedRun(recipe) : null;
        bool visible = run is not null;
        if (run is var (folder, status))
        {
            // A run.json still saying "running" when no job runs is a run that was killed.
            string ended = status == RunStatus.Running ? "interrupted" : status.ToString().ToLowerInvariant();
            _resumeRun.Lines = [$"{Path.GetFileName(folder)} ({ended})"];
        }
        if (_resumeButton.Visible == visible) return;
        _resumeButton.Visible = visible;
        _resumeRun.Visible = visible;
        LayOutForm();
    }

    private void BuildForm()
    {
        foreach (var child in _fields.SubViews.ToList())
        {
            _fields.Remove(child);
            child.Dispose();
        }
        var fields = _vm.Form.Fields;
        int rows = Math.Max(1, Math.Min(fields.Count, MaxFormRows));
        _fields.Height = rows;
        _fieldRows.Clear();
        _firstField = 0;
        _formRows = rows;
        LayOutForm();
        if (fields.Count == 0)
        {
            _fields.Add(new Label { X = 0, Y = 0, Text = _vm.Selected is null ? $"no recipes in {_vm.Folder}" : "this recipe declares no parameters (defineParams)" });
            return;
        }
        int labelWidth = Math.Min(18, fields.Max(f => f.Parameter.Name.Length) + 1);
        for (int i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            var label = new Label { X = 0, Y = i, Width = labelWidth, Text = field.Parameter.Name };
            var input = new TextField { X = labelWidth + 1, Y = i, Width = Dim.Fill(), Text = field.Value };
            int row = i;
            input.TextChanged += (_, _) =>
            {
                field.Value = input.Text;
                UpdateCommandLine();
            };
            input.HasFocusChanged += (_, e) =>
            {
                if (e.NewValue) ScrollFieldsTo(row, rows);
            };
            _fields.Add(label, input);
            _fieldRows.Add((label, input));
        }
        ScrollFieldsTo(0, rows);
    }

    /// <summary>Shows the rows of the form that fit, keeping <paramref name="row"/> among them (the form pages as focus moves).</summary>
    private void ScrollFieldsTo(int row, int visibleRows)
    {
        if (row < _firstField) _firstField = row;
        else if (row >= _firstField + visibleRows) _firstField = row - visibleRows + 1;
        for (int i = 0; i < _fieldRows.Count; i++)
        {
            // Rows outside the container are clipped but stay focusable: Tab reaches them and pages them in.
            var (label, input) = _fieldRows[i];
            label.Y = input.Y = i - _firstField;
        }
    }

    private void UpdateCommandLine()
    {
        var errors = _vm.Form.Errors;
        int width = _formFrame.Viewport.Width > 0 ? _formFrame.Viewport.Width : 50;
        IReadOnlyList<string> lines = _vm.Selected is not { } recipe ? [""]
            : errors.Count > 0 ? ["✗ " + errors[0]]
            : _vm.Form.CommandRows(RecipePath(recipe.Path), width);
        _commandLine.Lines = lines.Take(MaxCommandRows).ToList();
        if (_commandLine.Lines.Count != _commandLine.Frame.Height) LayOutForm();
    }

    /// <summary>Sizes the form frame for its field rows and command rows; the source takes the rest.</summary>
    private void LayOutForm()
    {
        int commandRows = Math.Max(1, _commandLine.Lines.Count);
        int resumeRows = _resumeButton.Visible ? 1 : 0;
        int height = _formRows + commandRows + resumeRows + 3;
        _commandLine.Height = commandRows;
        _commandLine.Y = Pos.AnchorEnd(commandRows + 1);
        // The Resume row sits between the command and the buttons' row above it: over the command line.
        _resumeButton.Y = Pos.AnchorEnd(commandRows + 2);
        _resumeRun.Y = Pos.AnchorEnd(commandRows + 2);
        _formFrame.Height = height;
        _formFrame.Y = Pos.AnchorEnd(height);
        _sourceFrame.Height = Dim.Fill(height);
    }

    /// <summary>The recipe's path as the command line gives it: relative to the current folder when inside it.</summary>
    private static string RecipePath(string path)
    {
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }
}
