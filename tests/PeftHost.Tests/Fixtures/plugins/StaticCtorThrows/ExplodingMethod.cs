using PeftHost.Sdk;

namespace StaticCtorThrows;

/// <summary>A method whose static constructor throws: the host must fail this plugin alone.</summary>
public sealed class ExplodingMethod : IPeftMethod
{
    private static readonly string Greeting;

    static ExplodingMethod()
    {
        Greeting = Environment.GetEnvironmentVariable("NEVER_SET_FIXTURE_VARIABLE") ?? throw new InvalidOperationException("static init exploded");
    }

    public string Name => "exploding";
    public string PeftType => "EXPLODING";
    public string Description => Greeting;
    public PeftConfig BindConfig(ConfigSource source) => throw new NotSupportedException();
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config) => throw new NotSupportedException();
}
