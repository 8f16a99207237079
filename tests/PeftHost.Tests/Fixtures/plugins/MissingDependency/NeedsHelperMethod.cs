using MissingDependencyHelper;
using PeftHost.Sdk;

namespace MissingDependency;

/// <summary>A method whose base class is in MissingDependencyHelper.dll, which the test removes.</summary>
public sealed class NeedsHelperMethod : HelperBase, IPeftMethod
{
    public string Name => "needs_helper";
    public string PeftType => "NEEDS_HELPER";
    public string Description => Describe();
    public PeftConfig BindConfig(ConfigSource source) => throw new NotSupportedException();
    public IAdapter Inject(IPeftModelSurface model, string adapterName, PeftConfig config) => throw new NotSupportedException();
}
