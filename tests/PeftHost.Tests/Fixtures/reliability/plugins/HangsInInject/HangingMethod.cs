using PeftHost.Sdk;

namespace HangsInInject;

/// <summary>
/// A method whose Inject blocks for <c>hang_seconds</c> before doing anything (a deadlock, an
/// endless loop): the host must give up after its call timeout, mark the plugin Failed and say so.
/// It never touches the model, so an abandoned call that ends later changes nothing.
/// </summary>
public sealed class HangingMethod : IPeftMethod
{
    public string Name => "hangs_in_inject";
    public string PeftType => "HANGS_IN_INJECT";
    public string Description => "blocks in Inject";
    public PeftConfig BindConfig(ConfigSource source) => ConfigBinder.Bind<HangingConfig>(source, PeftType);

    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config)
    {
        Thread.Sleep(TimeSpan.FromSeconds(((HangingConfig)config).HangSeconds));
        throw new TimeoutException("woke up after the host had given up");
    }
}

public sealed class HangingConfig : PeftConfig
{
    [ConfigKey("hang_seconds")]
    public double HangSeconds { get; set; } = 3600;
}
