using System.Reflection;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Quantization;

/// <summary>
/// Replaces a module's registered parameter, and every field of the module that still holds the
/// old one: modules keep parameters in private fields (<c>_weight</c>) whose names differ from the
/// registered names (<c>weight</c>), which TorchSharp's own <c>to(dtype)</c> does not update.
/// </summary>
internal static class ParameterSwap
{
    private static readonly MethodInfo Register = typeof(nn.Module).GetMethod(
        "ConditionallyRegisterParameter", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(string), typeof(Parameter)])
        ?? throw new MissingMethodException("nn.Module.ConditionallyRegisterParameter(string, Parameter)");

    /// <summary>Registers <paramref name="replacement"/> as <paramref name="name"/> on <paramref name="module"/> in place of <paramref name="old"/>.</summary>
    public static void Replace(nn.Module module, string name, Parameter old, Parameter replacement)
    {
        Register.Invoke(module, [name, replacement]);
        // TorchSharp also registers Parameter-typed fields under their field names (_weight): rebind those too.
        foreach (var (alias, p) in module.named_parameters(recurse: false).ToList())
            if (ReferenceEquals(p, old)) Register.Invoke(module, [alias, replacement]);
        for (var type = module.GetType(); type is not null && type != typeof(object); type = type.BaseType)
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if (ReferenceEquals(field.GetValue(module), old))
                    field.SetValue(module, replacement);
    }
}
