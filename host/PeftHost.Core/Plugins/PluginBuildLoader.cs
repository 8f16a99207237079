using System.Diagnostics;
using System.Reflection;
using McMaster.NETCore.Plugins;
using PeftHost.Sdk;
using TorchSharp;

namespace PeftHost.Core.Plugins;

/// <summary>The result of loading one build: the build, or the reason it could not be loaded.</summary>
/// <param name="Build">The loaded build; null on failure.</param>
/// <param name="Facts">What the metadata said, when it could be read.</param>
/// <param name="FailureReason">Why it failed; null on success.</param>
/// <param name="ElapsedMs">Time from reading the file to having instances.</param>
/// <param name="Abandoned">The context of a failed attempt, unloaded, for collection checks.</param>
/// <param name="ChangedWhileLoading">The main assembly's bytes changed during the attempt (a rebuild was writing it): the
/// attempt was undone and says nothing about the build, whose facts and loaded code may come from two different files.</param>
internal sealed record PluginLoadOutcome(PluginBuild? Build, PluginAssemblyFacts? Facts, string? FailureReason, double ElapsedMs, WeakReference? Abandoned,
    bool ChangedWhileLoading = false);

/// <summary>
/// Loads a plugin folder into a fresh collectible context and creates its methods and quantizers.
/// Every failure becomes a one-line reason; nothing here throws for a bad plugin.
/// <para>
/// The main assembly is read twice, once for its facts (name, version, SDK reference, hash) and once by the load
/// context, so a rebuild writing the file in between could pair one build's facts with another's code, or fail a
/// half-written file. The file is read once more after the attempt: if it no longer holds the bytes the facts came
/// from, the attempt is undone and reported as <see cref="PluginLoadOutcome.ChangedWhileLoading"/>.
/// </para>
/// </summary>
internal static class PluginBuildLoader
{
    /// <summary>
    /// Types the host and every plugin must see as the same types: the SDK contract and TorchSharp
    /// (a second TorchSharp would mean a second libtorch binding and tensors that cannot cross).
    /// McMaster also shares these assemblies' own dependencies.
    /// </summary>
    private static readonly Type[] SharedTypes = [typeof(IPeftMethod), typeof(torch)];

    public static PluginLoadOutcome Load(PluginCandidate candidate)
    {
        var clock = Stopwatch.StartNew();
        var (outcome, image) = LoadOnce(candidate, clock);
        if (image is null || SameBytes(candidate.AssemblyPath, image)) return outcome;
        var abandoned = outcome.Build?.Unload() ?? outcome.Abandoned;
        return new PluginLoadOutcome(null, null, $"{candidate.Name}.dll changed while it was being loaded", clock.Elapsed.TotalMilliseconds, abandoned,
            ChangedWhileLoading: true);
    }

    /// <summary>Whether <paramref name="path"/> still holds <paramref name="image"/>.</summary>
    private static bool SameBytes(string path, byte[] image)
    {
        try { return File.ReadAllBytes(path).AsSpan().SequenceEqual(image); }
        catch (IOException) { return false; }
    }

    /// <summary>One attempt, with the main assembly's bytes its facts were read from (null when it could not be read).</summary>
    private static (PluginLoadOutcome Outcome, byte[]? Image) LoadOnce(PluginCandidate candidate, Stopwatch clock)
    {
        byte[]? image = null;
        PluginAssemblyFacts? facts = null;
        PluginLoader? loader = null;
        try
        {
            if (!File.Exists(candidate.AssemblyPath))
                return Fail($"{candidate.Name}.dll not found in {candidate.Folder}");
            try { image = File.ReadAllBytes(candidate.AssemblyPath); }
            catch (IOException e) { return Fail($"cannot read {candidate.Name}.dll: {e.Message}"); }
            try { facts = PluginAssemblyFacts.Read(image); }
            catch (BadImageFormatException e) { return Fail($"{candidate.Name}.dll is not a valid .NET assembly ({e.Message})"); }
            if (!string.Equals(facts.AssemblyName, candidate.Name, StringComparison.Ordinal))
                return Fail($"{candidate.Name}.dll holds assembly '{facts.AssemblyName}'; a plugin's folder, file and assembly names must match");
            if (facts.SdkReference is not Version sdk)
                return Fail($"{candidate.Name}.dll does not reference {PluginAssemblyFacts.SdkAssemblyName}; plugins implement IPeftMethod or IQuantizer from it");
            if (!SdkVersion.IsCompatible(sdk))
                return Fail($"built for {PluginAssemblyFacts.SdkAssemblyName} {PluginInfo.FormatVersion(sdk)}, host has {PluginInfo.FormatVersion(SdkVersion.Current)} (major versions must match)");

            loader = PluginLoader.CreateFromAssemblyFile(candidate.AssemblyPath, SharedTypes, config =>
            {
                config.IsUnloadable = true;  // each build gets a collectible context we can drop
                config.LoadInMemory = true;  // never map the file: a rebuild must be free to overwrite it
                config.EnableHotReload = false; // PluginHost watches and swaps at step boundaries itself
            });
            Assembly assembly;
            try { assembly = loader.LoadDefaultAssembly(); }
            catch (Exception e) when (e is FileLoadException or BadImageFormatException or FileNotFoundException)
            {
                return Fail($"{candidate.Name}.dll could not be loaded: {e.Message}");
            }
            var (methods, quantizers, exports, reason) = PluginTypeDiscovery.CreateExports(assembly);
            if (reason is not null) return Fail(reason);
            var build = new PluginBuild(loader, assembly, facts, methods, quantizers, exports);
            loader = null; // owned by the build now
            return (new PluginLoadOutcome(build, facts, null, clock.Elapsed.TotalMilliseconds, null), image);
        }
        catch (Exception e)
        {
            // Anything else is still the plugin's problem, never the host's.
            return Fail($"loading failed: {e.Message}");
        }

        (PluginLoadOutcome, byte[]?) Fail(string reason)
        {
            WeakReference? abandoned = null;
            if (loader is not null)
            {
                abandoned = new WeakReference(loader.LoadContext);
                loader.Dispose();
            }
            return (new PluginLoadOutcome(null, facts, reason, clock.Elapsed.TotalMilliseconds, abandoned), image);
        }
    }
}
