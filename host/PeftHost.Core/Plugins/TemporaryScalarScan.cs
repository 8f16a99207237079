using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace PeftHost.Core.Plugins;

/// <summary>
/// Finds, in compiled assemblies, the calls that hand libtorch a temporary <c>TorchSharp.Scalar</c>.
/// <para>
/// TorchSharp 0.107 frees a Scalar's native value in its finalizer and passes the native pointer to libtorch without
/// keeping the managed Scalar alive through the call. A Scalar nobody holds (the <c>1</c> that <c>a + b</c> makes for
/// add's alpha, the <c>0.5</c> of <c>t * 0.5</c>) can therefore be finalized by a garbage collection that another thread
/// starts while libtorch still reads it. The scan reads TorchSharp itself to learn which of its members make such a
/// Scalar (directly or through another member), then lists every call from the scanned assemblies to one of those, and
/// every implicit conversion to Scalar (whose result nothing holds either). <c>peft plugins --check</c> runs it on the
/// loaded plugins; the tests run it on the SDK, the host and the bundled plugins. (What a scan of compiled code cannot
/// see: a <c>ToScalar()</c> passed straight into a call without being held. The rule in docs/PLUGINS.md covers it.)
/// </para>
/// </summary>
public static class TemporaryScalarScan
{
    private static readonly Lazy<ImmutableHashSet<string>> TorchSharpMakers = new(ScanTorchSharp);

    /// <summary>"Caller calls callee" for every call in <paramref name="assemblyPath"/> that makes a temporary Scalar, in order, once each.</summary>
    public static IReadOnlyList<string> Calls(string assemblyPath)
    {
        var makers = TorchSharpMakers.Value;
        var found = new List<string>();
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        foreach (var (method, body) in Bodies(pe, md))
            foreach (var callee in Callees(md, body))
                if (callee is { } name && name.StartsWith("TorchSharp.", StringComparison.Ordinal) && (makers.Contains(name) || IsImplicitScalar(name)))
                    found.Add($"{Describe(md, method)} calls {name}");
        return found.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    private static bool IsImplicitScalar(string member) => member.StartsWith("TorchSharp.Scalar::op_Implicit(", StringComparison.Ordinal);

    private static ImmutableHashSet<string> ScanTorchSharp()
    {
        string path = typeof(TorchSharp.torch).Assembly.Location;
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var calls = new Dictionary<string, List<string>>();
        foreach (var (method, body) in Bodies(pe, md))
            calls[Key(md, method)!] = Callees(md, body).OfType<string>().ToList();
        // A member makes a temporary when it converts a number to a Scalar (implicitly or with ToScalar) or calls a
        // member that does. (One that disposes what it makes is counted too: none of the ones this code needs does.)
        var makers = calls.Where(c => c.Value.Any(IsScalarFactory)).Select(c => c.Key).ToHashSet();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var (caller, callees) in calls)
                if (!makers.Contains(caller) && callees.Any(makers.Contains)) grew = makers.Add(caller) | grew;
        }
        makers.RemoveWhere(m => m.StartsWith("TorchSharp.Scalar::", StringComparison.Ordinal) || m.StartsWith("TorchSharp.ScalarExtensionMethods::", StringComparison.Ordinal));
        return makers.ToImmutableHashSet();
    }

    private static bool IsScalarFactory(string member) =>
        IsImplicitScalar(member) || member.StartsWith("TorchSharp.ScalarExtensionMethods::ToScalar(", StringComparison.Ordinal);

    private static IEnumerable<(MethodDefinitionHandle Method, MethodBodyBlock Body)> Bodies(PEReader pe, MetadataReader md)
    {
        foreach (var handle in md.MethodDefinitions)
        {
            var method = md.GetMethodDefinition(handle);
            if (method.RelativeVirtualAddress != 0) yield return (handle, pe.GetMethodBody(method.RelativeVirtualAddress));
        }
    }

    private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    /// <summary>The callee of each call, callvirt, newobj and ldftn in <paramref name="body"/>, as <see cref="Key"/> names it.</summary>
    private static IEnumerable<string?> Callees(MetadataReader md, MethodBodyBlock body)
    {
        var il = body.GetILReader();
        var callees = new List<string?>();
        while (il.RemainingBytes > 0)
        {
            short code = il.ReadByte();
            if (code == 0xFE) code = unchecked((short)(0xFE00 | il.ReadByte()));
            var operand = Operands[code];
            if (operand == OperandType.InlineMethod)
            {
                callees.Add(Key(md, MetadataTokens.EntityHandle(il.ReadInt32())));
                continue;
            }
            int size = operand switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 * il.ReadInt32(),
                _ => 4,
            };
            il.Offset += size; // (after the switch: InlineSwitch reads its count first)
        }
        return callees;
    }

    /// <summary>"Namespace.Type::name(parameter types)" of a method definition, reference or instantiation.</summary>
    private static string? Key(MetadataReader md, EntityHandle handle)
    {
        var names = new TypeNames();
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
                var definition = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                var signature = definition.DecodeSignature(names, null);
                return $"{names.Definition(md, definition.GetDeclaringType())}::{md.GetString(definition.Name)}({string.Join(",", signature.ParameterTypes)})";
            case HandleKind.MemberReference:
                var reference = md.GetMemberReference((MemberReferenceHandle)handle);
                if (reference.GetKind() != MemberReferenceKind.Method) return null;
                string? parent = reference.Parent.Kind switch
                {
                    HandleKind.TypeReference => names.Reference(md, (TypeReferenceHandle)reference.Parent),
                    HandleKind.TypeDefinition => names.Definition(md, (TypeDefinitionHandle)reference.Parent),
                    HandleKind.TypeSpecification => md.GetTypeSpecification((TypeSpecificationHandle)reference.Parent).DecodeSignature(names, null),
                    _ => null,
                };
                if (parent is null) return null;
                int generic = parent.IndexOf('<');
                if (generic >= 0) parent = parent[..generic];
                return $"{parent}::{md.GetString(reference.Name)}({string.Join(",", reference.DecodeMethodSignature(names, null).ParameterTypes)})";
            case HandleKind.MethodSpecification:
                return Key(md, md.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            default:
                return null;
        }
    }

    private static string Describe(MetadataReader md, MethodDefinitionHandle handle)
    {
        var method = md.GetMethodDefinition(handle);
        return $"{new TypeNames().Definition(md, method.GetDeclaringType())}.{md.GetString(method.Name)}";
    }

    /// <summary>Type names as both a definition and a reference spell them, so that the two can be compared.</summary>
    private sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public string Definition(MetadataReader md, TypeDefinitionHandle handle)
        {
            var type = md.GetTypeDefinition(handle);
            var outer = type.GetDeclaringType();
            return outer.IsNil ? Join(md.GetString(type.Namespace), md.GetString(type.Name)) : $"{Definition(md, outer)}/{md.GetString(type.Name)}";
        }

        public string Reference(MetadataReader md, TypeReferenceHandle handle)
        {
            var type = md.GetTypeReference(handle);
            return type.ResolutionScope.Kind == HandleKind.TypeReference
                ? $"{Reference(md, (TypeReferenceHandle)type.ResolutionScope)}/{md.GetString(type.Name)}"
                : Join(md.GetString(type.Namespace), md.GetString(type.Name));
        }

        private static string Join(string ns, string name) => ns.Length == 0 ? name : $"{ns}.{name}";

        public string GetArrayType(string element, ArrayShape shape) => element + "[" + new string(',', shape.Rank - 1) + "]";
        public string GetByReferenceType(string element) => element + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string generic, ImmutableArray<string> arguments) => $"{generic}<{string.Join(",", arguments)}>";
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodified, bool isRequired) => unmodified;
        public string GetPinnedType(string element) => element;
        public string GetPointerType(string element) => element + "*";
        public string GetPrimitiveType(PrimitiveTypeCode code) => code.ToString();
        public string GetSZArrayType(string element) => element + "[]";
        public string GetTypeFromDefinition(MetadataReader md, TypeDefinitionHandle handle, byte kind) => Definition(md, handle);
        public string GetTypeFromReference(MetadataReader md, TypeReferenceHandle handle, byte kind) => Reference(md, handle);
        public string GetTypeFromSpecification(MetadataReader md, object? context, TypeSpecificationHandle handle, byte kind) =>
            md.GetTypeSpecification(handle).DecodeSignature(this, context);
    }
}
