using System.Reflection;

namespace PeftHost.Core;

/// <summary>The PeftHost version (<c>$(PeftHostVersion)</c> in Directory.Build.props, with the commit when built from git), as <c>peft --version</c> prints it.</summary>
public static class PeftHostVersion
{
    /// <summary>The version text, e.g. "0.1.0+f924ffc…".</summary>
    public static string Current { get; } =
        typeof(PeftHostVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
