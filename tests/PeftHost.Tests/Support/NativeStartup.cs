using System.Runtime.CompilerServices;
using PeftHost.Core.Runtime;

namespace PeftHost.Tests.Support;

/// <summary>Applies the native start-up settings before any test touches libtorch, as the CLI does in Main.</summary>
internal static class NativeStartup
{
    [ModuleInitializer]
    internal static void Initialize() => NativeRuntime.Initialize();
}
