using System.Reflection;
using PeftHost.Sdk;

namespace PeftHost.Core.Plugins;

/// <summary>
/// Finds a plugin assembly's public, non-abstract <see cref="IPeftMethod"/> and
/// <see cref="IQuantizer"/> types with a parameterless constructor and creates one instance of
/// each. Runs plugin code (static and instance constructors, <c>Name</c> getters), so every step
/// turns a throw into a reason naming the type.
/// </summary>
internal static class PluginTypeDiscovery
{
    public static (IReadOnlyList<IPeftMethod> Methods, IReadOnlyList<IQuantizer> Quantizers, IReadOnlyList<PluginExport> Exports, string? FailureReason)
        CreateExports(Assembly assembly)
    {
        Type[] types;
        try { types = assembly.GetExportedTypes(); }
        catch (Exception e) { return Failed($"type discovery failed: {DependencyMessage(e)}"); }

        var methods = new List<IPeftMethod>();
        var quantizers = new List<IQuantizer>();
        var exports = new List<PluginExport>();
        foreach (var type in types.OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            bool isMethod = typeof(IPeftMethod).IsAssignableFrom(type);
            bool isQuantizer = typeof(IQuantizer).IsAssignableFrom(type);
            if (!isMethod && !isQuantizer)
            {
                if (ImplementsForeignSdk(type))
                    return Failed($"{type.FullName} implements a {PluginAssemblyFacts.SdkAssemblyName} interface from its own copy of the SDK; " +
                                  "reference the SDK with Private=false / ExcludeAssets=runtime so the host's copy is used");
                continue;
            }
            if (!type.IsClass || type.IsAbstract || type.ContainsGenericParameters) continue;
            if (type.GetConstructor(Type.EmptyTypes) is null)
                return Failed($"{type.FullName} needs a public parameterless constructor");

            object instance;
            try { instance = Activator.CreateInstance(type)!; }
            catch (Exception e) { return Failed($"creating {type.FullName} failed: {Unwrap(e)}"); }

            try
            {
                if (instance is IPeftMethod method)
                {
                    string name = RequireName(method.Name, type);
                    methods.Add(method);
                    exports.Add(new PluginExport(name, PluginExportKind.Method, method.PeftType, method.Description, type.FullName!));
                }
                if (instance is IQuantizer quantizer)
                {
                    string name = RequireName(quantizer.Name, type);
                    quantizers.Add(quantizer);
                    exports.Add(new PluginExport(name, PluginExportKind.Quantizer, null, quantizer.Description, type.FullName!));
                }
            }
            catch (Exception e) { return Failed($"reading {type.FullName}'s name failed: {Unwrap(e)}"); }
        }

        var duplicate = exports.GroupBy(e => (e.Kind, Name: e.Name.ToLowerInvariant())).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            return Failed($"more than one {duplicate.Key.Kind.ToString().ToLowerInvariant()} is named '{duplicate.First().Name}'");
        if (exports.Count == 0)
            return Failed("no public, non-abstract IPeftMethod or IQuantizer type with a parameterless constructor was found");
        return (methods, quantizers, exports, null);
    }

    private static (IReadOnlyList<IPeftMethod>, IReadOnlyList<IQuantizer>, IReadOnlyList<PluginExport>, string?) Failed(string reason) =>
        ([], [], [], reason);

    private static string RequireName(string? name, Type type) =>
        string.IsNullOrWhiteSpace(name) ? throw new InvalidOperationException($"{type.FullName}.Name is empty") : name;

    /// <summary>True when <paramref name="type"/> implements an SDK interface by name that is not the host's type.</summary>
    private static bool ImplementsForeignSdk(Type type)
    {
        try
        {
            return type.GetInterfaces().Any(i =>
                i.FullName is "PeftHost.Sdk.IPeftMethod" or "PeftHost.Sdk.IQuantizer" && i.Assembly != typeof(IPeftMethod).Assembly);
        }
        catch (Exception) { return false; }
    }

    /// <summary>
    /// The message that says what went wrong, in the plugin's own words (no .NET type name: that is in the
    /// debug log with the stack): constructor throws arrive wrapped in <see cref="TargetInvocationException"/>
    /// and <see cref="TypeInitializationException"/>.
    /// </summary>
    internal static string Unwrap(Exception e)
    {
        bool staticConstructor = false;
        while (e is TargetInvocationException or TypeInitializationException && e.InnerException is not null)
        {
            staticConstructor |= e is TypeInitializationException;
            e = e.InnerException;
        }
        string what = OneLine(e.Message);
        return staticConstructor ? $"its static constructor threw: {what}" : what;
    }

    private static string DependencyMessage(Exception e) => e switch
    {
        ReflectionTypeLoadException r => string.Join("; ", r.LoaderExceptions.OfType<Exception>().Select(x => OneLine(x.Message)).Distinct().Take(3)),
        FileNotFoundException or FileLoadException => $"a dependency is missing: {OneLine(e.Message)}",
        _ => Unwrap(e),
    };

    /// <summary>A failure reason is one line (in <c>peft plugins</c>, in errors that list several): the runtime's messages may span lines.</summary>
    private static string OneLine(string message) =>
        string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
