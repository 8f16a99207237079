using PeftHost.Sdk;

namespace FutureSdk;

/// <summary>A well-formed method, but for the next major version of the SDK.</summary>
public sealed class FutureMethod : IPeftMethod
{
    public string Name => "future";
    public string PeftType => "FUTURE";
    public string Description => "built against PeftHost.Sdk 2.0.0";
    public PeftConfig BindConfig(ConfigSource source) => throw new NotSupportedException();
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config) => throw new NotSupportedException();
}
