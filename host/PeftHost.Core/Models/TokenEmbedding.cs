using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftHost.Core.Models;

/// <summary>A token embedding table [vocab, hidden] looked up by id, with its parameter named <c>weight</c>.</summary>
public sealed class TokenEmbedding : PeftHost.Sdk.CanonicalModule<Tensor, Tensor>
{
    /// <summary>Wraps <paramref name="weight"/> [vocab, hidden].</summary>
    public TokenEmbedding(Parameter weight) : base("embed_tokens")
    {
        register_parameter("weight", weight);
    }

    /// <summary>The table.</summary>
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>Rows of the table for <paramref name="ids"/> [..]: result [.., hidden].</summary>
    public override Tensor forward(Tensor ids)
    {
        var weight = Weight;
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view([.. ids.shape, weight.shape[1]]);
    }
}
