using TorchSharp;

namespace PeftHost.Sdk;

/// <summary>
/// The base of every module PeftHost and its plugins define: children and parameters exist only under the names
/// given to <c>register_module</c> / <c>register_parameter</c> (Hugging Face's and PEFT's names). TorchSharp's default
/// registration also adds each module- or parameter-typed field under its C# field name (<c>_q</c>,
/// <c>&lt;Mlp&gt;k__BackingField</c>), so a child would be listed twice and a swapped-out module would stay alive under
/// its alias; this base switches that off once, for all of them.
/// </summary>
/// <param name="name">The module's name.</param>
public abstract class CanonicalModule(string name) : torch.nn.Module(name)
{
    /// <summary>Registers nothing by field name: the constructor's explicit registrations are the only ones.</summary>
    protected sealed override void RegisterComponents() { }
}

/// <summary>A <see cref="CanonicalModule"/> with a forward pass from <typeparamref name="T"/> to <typeparamref name="TResult"/>.</summary>
/// <param name="name">The module's name.</param>
public abstract class CanonicalModule<T, TResult>(string name) : torch.nn.Module<T, TResult>(name)
{
    /// <summary>Registers nothing by field name: the constructor's explicit registrations are the only ones.</summary>
    protected sealed override void RegisterComponents() { }
}
