using PeftHost.Sdk;

namespace InjectThrows;

/// <summary>A method that loads fine but throws from Inject: the host must name the plugin and mark it Failed.</summary>
public sealed class ThrowingMethod : IPeftMethod
{
    public string Name => "inject_throws";
    public string PeftType => "INJECT_THROWS";
    public string Description => "throws from Inject";
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<ThrowingConfig>(source, PeftType);
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config) =>
        throw new InvalidOperationException("inject exploded");
}

public sealed class ThrowingConfig : PeftConfig
{
}
