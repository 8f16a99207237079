using PeftHost.Cli.Dashboard.ViewModels;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>
/// The Playground: a prompt box (Enter sends), tokens, temperature and top-p, a system prompt and the
/// mode (completion or chat, c), and the two answers side by side as they stream — the model with its
/// active adapter on the left, the base model on the right. In chat mode the columns hold each side's
/// conversation; New (n) starts another.
/// </summary>
public sealed class PlaygroundPanel : FrameView
{
    private readonly PlaygroundViewModel _vm;
    private readonly Action<CommandResult> _report;
    private readonly TextField _prompt = new() { X = 8, Y = 0, Width = Dim.Fill(30) };
    private readonly TextField _tokens = new() { Width = 5 };
    private readonly TextField _temperature = new() { Width = 5 };
    private readonly TextField _system = new() { X = 8, Y = 1, Width = Dim.Fill(36) }; // room for top-p, the mode (its longer name, "completion") and New
    private readonly TextField _topP = new() { Width = 5 };
    private readonly FlatButton _mode = new() { Y = 1 };
    private readonly LinesView _status = new() { X = 0, Y = 2, Width = Dim.Fill(), Height = 1 };
    private readonly FrameView _adapterFrame = new() { TabStop = TabBehavior.TabStop, X = 0, Y = 3, Width = Dim.Percent(50), Height = Dim.Fill() };
    private readonly FrameView _baseFrame = new() { TabStop = TabBehavior.TabStop, Title = "base model", Y = 3, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly TextPane _adapterText = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), WordWrap = true, FollowEnd = true };
    private readonly TextPane _baseText = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), WordWrap = true, FollowEnd = true };

    /// <summary>Builds the panel; results of sending go to <paramref name="report"/>.</summary>
    public PlaygroundPanel(PlaygroundViewModel vm, Action<CommandResult> report)
    {
        _vm = vm;
        _report = report;
        Title = "Playground";
        Width = Dim.Fill();
        Height = Dim.Fill();
        _prompt.Text = vm.Prompt;
        _tokens.Text = vm.MaxNewTokens;
        _temperature.Text = vm.Temperature;
        _system.Text = vm.SystemPrompt;
        _topP.Text = vm.TopP;
        var promptLabel = new Label { X = 0, Y = 0, Text = "Prompt:" };
        var tokensLabel = new Label { X = Pos.Right(_prompt) + 1, Y = 0, Text = "max" };
        _tokens.X = Pos.Right(tokensLabel) + 1;
        _tokens.Y = 0;
        var temperatureLabel = new Label { X = Pos.Right(_tokens) + 1, Y = 0, Text = "temp" };
        _temperature.X = Pos.Right(temperatureLabel) + 1;
        _temperature.Y = 0;
        var send = new FlatButton { X = Pos.Right(_temperature) + 1, Y = 0, Text = "Send" };
        var systemLabel = new Label { X = 0, Y = 1, Text = "System:" };
        var topPLabel = new Label { X = Pos.Right(_system) + 1, Y = 1, Text = "top-p" };
        _topP.X = Pos.Right(topPLabel) + 1;
        _topP.Y = 1;
        _mode.X = Pos.Right(_topP) + 1;
        var newChat = new FlatButton { X = Pos.Right(_mode), Y = 1, Text = "New" };
        MainAction = send;
        send.Accepting += (_, e) => { Send(); e.Handled = true; };
        _mode.Accepting += (_, e) => { Act(ToggleMode()); e.Handled = true; };
        newChat.Accepting += (_, e) => { Act(_vm.NewConversation()); e.Handled = true; };
        _prompt.KeyDown += (_, key) =>
        {
            if (key == Key.Enter) { Send(); key.Handled = true; }
        };
        _adapterFrame.Add(_adapterText);
        _baseFrame.Add(_baseText);
        _baseFrame.X = Pos.Right(_adapterFrame);
        Add(promptLabel, _prompt, tokensLabel, _tokens, temperatureLabel, _temperature, send,
            systemLabel, _system, topPLabel, _topP, _mode, newChat, _status, _adapterFrame, _baseFrame);
        Refresh();
    }

    /// <summary>
    /// The view focused when the panel is shown: Send, not the prompt box, so that the digit keys that switch
    /// panels never become prompt text (Tab or Shift-Tab reaches the fields; Enter sends from either).
    /// </summary>
    public View MainAction { get; }

    /// <summary>Handles c (chat / completion mode) and n (new conversation) when no text field has focus; true when the key was one of them.</summary>
    public bool HandleLetter(char letter)
    {
        CommandResult? result = char.ToLowerInvariant(letter) switch
        {
            'c' => ToggleMode(),
            'n' => _vm.NewConversation(),
            _ => null,
        };
        if (result is null) return false;
        Act(result);
        return true;
    }

    /// <summary>Redraws from the view-model.</summary>
    public void Refresh()
    {
        _status.Lines = [_vm.Status];
        _adapterFrame.Title = _vm.AdapterTitle;
        _mode.Text = _vm.Mode == PlaygroundMode.Chat ? "chat" : "completion";
        SetText(_adapterText, _vm.AdapterPane);
        SetText(_baseText, _vm.BasePane);
    }

    private void Send()
    {
        _vm.Prompt = _prompt.Text;
        _vm.MaxNewTokens = _tokens.Text;
        _vm.Temperature = _temperature.Text;
        _vm.SystemPrompt = _system.Text;
        _vm.TopP = _topP.Text;
        var result = _vm.Send();
        // A sent chat message leaves the box for the next one.
        if (result.Started && _vm.Mode == PlaygroundMode.Chat) _vm.Prompt = _prompt.Text = "";
        Act(result);
    }

    private CommandResult ToggleMode()
    {
        _vm.Prompt = _prompt.Text;
        var result = _vm.ToggleMode();
        _prompt.Text = _vm.Prompt; // chat mode starts with an empty message box instead of the completion sample
        return result;
    }

    private void Act(CommandResult result)
    {
        _report(result);
        Refresh();
    }

    private static void SetText(TextPane view, string text)
    {
        if (view.Text != text) view.Text = text;
    }
}
