using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;

namespace PeftHost.Core.Plugins;

/// <summary>
/// What a plugin assembly's metadata says about it, read without loading it: its name, its own
/// version, and the <c>PeftHost.Sdk</c> version it was compiled against. Reading the metadata
/// first means a corrupt file or an SDK-major mismatch is refused before any of its code can run.
/// </summary>
/// <param name="AssemblyName">The assembly's simple name.</param>
/// <param name="Version">Informational version (without <c>+commit</c>) or else the assembly version.</param>
/// <param name="SdkReference">The referenced <c>PeftHost.Sdk</c> version; null when it does not reference the SDK.</param>
/// <param name="ContentHash">SHA-256 of the file, to tell a real change from a touch.</param>
public sealed record PluginAssemblyFacts(string AssemblyName, string? Version, Version? SdkReference, string ContentHash)
{
    /// <summary>The SDK's assembly name.</summary>
    public const string SdkAssemblyName = "PeftHost.Sdk";

    /// <summary>Reads the facts from an assembly image; throws <see cref="BadImageFormatException"/> for anything that is not a .NET assembly.</summary>
    public static PluginAssemblyFacts Read(byte[] image)
    {
        try
        {
            using var pe = new PEReader(ImmutableArray.Create(image));
            if (!pe.HasMetadata) throw new BadImageFormatException("the file has no .NET metadata");
            var md = pe.GetMetadataReader();
            if (!md.IsAssembly) throw new BadImageFormatException("the file is a module, not an assembly");
            var definition = md.GetAssemblyDefinition();
            Version? sdk = null;
            foreach (var handle in md.AssemblyReferences)
            {
                var reference = md.GetAssemblyReference(handle);
                if (md.StringComparer.Equals(reference.Name, SdkAssemblyName)) sdk = reference.Version;
            }
            string? informational = InformationalVersion(md, definition);
            string version = informational ?? PluginInfo.FormatVersion(definition.Version);
            return new PluginAssemblyFacts(md.GetString(definition.Name), version, sdk, Convert.ToHexString(SHA256.HashData(image)));
        }
        catch (Exception e) when (e is not BadImageFormatException and (InvalidOperationException or ArgumentException or IndexOutOfRangeException))
        {
            // PEReader reports truncated or garbled images with a variety of exception types.
            throw new BadImageFormatException(e.Message, e);
        }
    }

    private static string? InformationalVersion(MetadataReader md, AssemblyDefinition definition)
    {
        foreach (var handle in definition.GetCustomAttributes())
        {
            var attribute = md.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != HandleKind.MemberReference) continue;
            var ctor = md.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
            if (ctor.Parent.Kind != HandleKind.TypeReference) continue;
            var type = md.GetTypeReference((TypeReferenceHandle)ctor.Parent);
            if (!md.StringComparer.Equals(type.Name, "AssemblyInformationalVersionAttribute")) continue;
            var blob = md.GetBlobReader(attribute.Value);
            if (blob.ReadUInt16() != 1) return null; // custom attribute prolog
            string? value = blob.ReadSerializedString();
            if (string.IsNullOrEmpty(value)) return null;
            int plus = value.IndexOf('+'); // the SDK appends +<commit>; the version is what users compare
            return plus > 0 ? value[..plus] : value;
        }
        return null;
    }
}
