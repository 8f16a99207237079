using Terminal.Gui.App;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace PeftHost.Cli.Dashboard.Views;

/// <summary>A button without the drop shadow (which would take a row the 80×24 layout does not have).</summary>
public sealed class FlatButton : Button
{
    /// <inheritdoc />
    protected override void OnInitializingShadowStyle(ValueChangingEventArgs<ShadowStyles?> args) => args.NewValue = null;
}
