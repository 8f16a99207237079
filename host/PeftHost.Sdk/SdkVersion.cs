namespace PeftHost.Sdk;

/// <summary>
/// The semantic version of the plugin contract. A plugin is compatible with a host when it
/// was compiled against the same major version of <c>PeftHost.Sdk</c>.
/// </summary>
public static class SdkVersion
{
    /// <summary>The SDK version this assembly implements.</summary>
    public static Version Current => typeof(SdkVersion).Assembly.GetName().Version ?? new Version(1, 0, 0, 0);

    /// <summary>True when a plugin built against <paramref name="pluginSdk"/> can run on this SDK.</summary>
    public static bool IsCompatible(Version pluginSdk) => pluginSdk.Major == Current.Major;
}
