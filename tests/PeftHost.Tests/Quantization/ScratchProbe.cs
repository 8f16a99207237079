using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using TorchSharp.Modules;
namespace PeftHost.Tests.Quantization;
public class ScratchProbe
{
    [Fact]
    public void Probe()
    {
        using var model = TinyModels.Create(o => o["tie_word_embeddings"] = false);
        var surface = new ModelSurface(model);
        var sb = new System.Text.StringBuilder();
        foreach (var (path, m) in surface.NamedModules())
            if (m is Linear l) sb.AppendLine($"{path}: weight null? {l.weight is null} handle {(l.weight is null ? "-" : l.weight.IsInvalid.ToString())}");
        var direct = (Linear)surface.GetModule("model.layers.0.self_attn.q_proj");
        sb.AppendLine($"direct {direct.weight?.IsInvalid}");
        File.WriteAllText("/tmp/probe.txt", sb.ToString());
    }
}
