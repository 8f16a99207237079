namespace PeftHost.Core.Plugins;

/// <summary>
/// Something that holds objects made by plugin code across steps (the PEFT model with its
/// adapters, a quantized model) and so must take part in a hot reload. Register it with
/// <see cref="PluginHost.RegisterReloadParticipant"/>.
/// <para>
/// At a step boundary, for each plugin with a pending reload, the host calls
/// <see cref="Detach"/> with the outgoing build's exports. The participant lets go of everything
/// those exports made — typically every adapter injected by a method of
/// <see cref="PluginExports.PluginName"/> (record <see cref="PluginHost.PluginOf"/> at inject time):
/// take each adapter's state (cloned, since the tensors belong to
/// modules about to go), its config as JSON, then remove the adapter — and returns a continuation.
/// The host unloads the old build and calls the continuation with the new build's exports; the
/// participant re-injects (binding the saved config with the new method) and loads the saved state.
/// If the swap is abandoned before the old build is unloaded, the continuation is called with the
/// outgoing exports instead, to put things back as they were.
/// </para>
/// </summary>
public interface IPluginReloadParticipant
{
    /// <summary>
    /// Lets go of everything made by <paramref name="outgoing"/>'s code and returns how to
    /// re-attach with a (new) build of the same plugin, or null when nothing of it is in use.
    /// The continuation must not capture <paramref name="outgoing"/> or any object it made.
    /// </summary>
    Action<PluginExports>? Detach(PluginExports outgoing);
}
