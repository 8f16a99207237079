using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Playground: a prompt box (Enter sends), tokens and temperature, and the two answers side by
/// side as they stream — the model with its active adapter on the left, the base model on the right.
/// </summary>
public sealed class PlaygroundPanel : FrameView
{
    private readonly PlaygroundViewModel _vm;
    private readonly TextField _prompt = new() { X = 8, Y = 0, Width = Dim.Fill(30) };
    private readonly TextField _tokens = new() { Width = 5 };
    private readonly TextField _temperature = new() { Width = 5 };
    private readonly LinesView _status = new() { X = 0, Y = 1, Width = Dim.Fill(), Height = 1 };
    private readonly FrameView _adapterFrame = new() { TabStop = TabBehavior.TabStop, X = 0, Y = 2, Width = Dim.Percent(50), Height = Dim.Fill() };
    private readonly FrameView _baseFrame = new() { TabStop = TabBehavior.TabStop, Title = "base model", Y = 2, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly TextPane _adapterText = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), WordWrap = true, FollowEnd = true };
    private readonly TextPane _baseText = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), WordWrap = true, FollowEnd = true };

    /// <summary>Builds the panel; results of sending go to <paramref name="report"/>.</summary>
    public PlaygroundPanel(PlaygroundViewModel vm, Action<CommandResult> report)
    {
        _vm = vm;
        Title = "Playground";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _prompt.Text = vm.Prompt;
        _tokens.Text = vm.MaxNewTokens;
        _temperature.Text = vm.Temperature;
        var promptLabel = new Label { X = 0, Y = 0, Text = "Prompt:" };
        var tokensLabel = new Label { X = Pos.Right(_prompt) + 1, Y = 0, Text = "max" };
        _tokens.X = Pos.Right(tokensLabel) + 1;
        _tokens.Y = 0;
        var temperatureLabel = new Label { X = Pos.Right(_tokens) + 1, Y = 0, Text = "temp" };
        _temperature.X = Pos.Right(temperatureLabel) + 1;
        _temperature.Y = 0;
        var send = new FlatButton { X = Pos.Right(_temperature) + 1, Y = 0, Text = "Send" };
        MainAction = send;
        void Send()
        {
            _vm.Prompt = _prompt.Text;
            _vm.MaxNewTokens = _tokens.Text;
            _vm.Temperature = _temperature.Text;
            report(_vm.Send());
            Refresh();
        }
        send.Accepting += (_, e) => { Send(); e.Handled = true; };
        _prompt.KeyDown += (_, key) =>
        {
            if (key == Key.Enter) { Send(); key.Handled = true; }
        };
        _adapterFrame.Add(_adapterText);
        _baseFrame.Add(_baseText);
        _baseFrame.X = Pos.Right(_adapterFrame);
        Add(promptLabel, _prompt, tokensLabel, _tokens, temperatureLabel, _temperature, send, _status, _adapterFrame, _baseFrame);
    }

    /// <summary>
    /// The view focused when the panel is shown: Send, not the prompt box, so that the digit keys that switch
    /// panels never become prompt text (Tab or Shift-Tab reaches the fields; Enter sends from either).
    /// </summary>
    public View MainAction { get; }

    /// <summary>Redraws from the view-model.</summary>
    public void Refresh()
    {
        _status.Lines = [_vm.Status];
        _adapterFrame.Title = _vm.AdapterTitle;
        string prompt = _vm.IsGenerating || _vm.AdapterText.Length + _vm.BaseText.Length > 0 ? _vm.Prompt : "";
        SetText(_adapterText, _vm.Adapter is null && !_vm.IsGenerating && _vm.BaseText.Length > 0 ? "(no active adapter)" : prompt + _vm.AdapterText);
        SetText(_baseText, prompt + _vm.BaseText);
    }

    private static void SetText(TextPane view, string text)
    {
        if (view.Text != text) view.Text = text;
    }
}
