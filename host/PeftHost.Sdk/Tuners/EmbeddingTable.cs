using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// A table of learned vectors [rows, width] with its parameter named <c>weight</c>, like <c>torch.nn.Embedding</c>
/// (so parameter paths read <c>…embedding.weight</c> as in PEFT). Virtual tokens are always all rows in order, so
/// the table is read whole.
/// </summary>
public sealed class EmbeddingTable : CanonicalModule<Tensor, Tensor>
{
    /// <summary>Creates the table (float32 on <paramref name="device"/>): N(0, 1) as <c>nn.Embedding</c>, or zeros.</summary>
    public EmbeddingTable(long rows, long width, Device device, bool zero = false, bool trainable = true) : base("embedding")
    {
        var weight = device.type == DeviceType.META || zero
            ? zeros([rows, width], ScalarType.Float32, device)
            : randn([rows, width], ScalarType.Float32, device);
        register_parameter("weight", new Parameter(weight, trainable));
    }

    /// <summary>The table.</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>Rows of the table for <paramref name="ids"/>: result [.., width].</summary>
    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = Weight.index_select(0, flat);
        return rows.view([.. ids.shape, Weight.shape[1]]);
    }
}
