using TorchSharp;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// Where prompt encoders live in the model tree: under the root's child <c>prompt_encoder</c>, one entry per adapter
/// (PEFT's <c>PeftModel.prompt_encoder</c> ModuleDict), so their parameters are part of the model — counted by
/// the parameter counter, moved with the model — at paths <c>prompt_encoder.{adapter}.…</c>.
/// </summary>
public static class PromptEncoderSlot
{
    /// <summary>The root's child holding the encoders.</summary>
    public const string ContainerName = "prompt_encoder";

    /// <summary>Registers <paramref name="encoder"/> for <paramref name="adapter"/> (the container is created when missing).</summary>
    public static void Register(torch.nn.Module root, string adapter, torch.nn.Module encoder)
    {
        var container = Container(root);
        if (container is null)
        {
            container = new PromptEncoderContainer();
            root.register_module(ContainerName, container);
        }
        if (container.named_children().Any(c => c.name == adapter))
            throw new InvalidOperationException($"a prompt encoder for adapter '{adapter}' is already on the model");
        container.register_module(adapter, encoder);
    }

    /// <summary>Replaces the encoder of <paramref name="adapter"/>.</summary>
    public static void Replace(torch.nn.Module root, string adapter, torch.nn.Module encoder)
    {
        var container = Container(root) ?? throw new InvalidOperationException("no prompt encoders on the model");
        container.register_module(adapter, null!);
        container.register_module(adapter, encoder);
    }

    /// <summary>Unregisters the encoder of <paramref name="adapter"/>, and the container when it is empty.</summary>
    public static void Unregister(torch.nn.Module root, string adapter)
    {
        var container = Container(root);
        if (container is null) return;
        container.register_module(adapter, null!);
        if (!container.named_children().Any()) root.register_module(ContainerName, null!);
    }

    private static torch.nn.Module? Container(torch.nn.Module root) =>
        root.named_children().FirstOrDefault(c => c.name == ContainerName).module;

    /// <summary>PEFT's ModuleDict of prompt encoders.</summary>
    private sealed class PromptEncoderContainer() : CanonicalModule(ContainerName);
}
