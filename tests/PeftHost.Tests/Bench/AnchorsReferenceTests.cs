using PeftHost.Bench;
using PeftHost.Core.Models;
using PeftHost.Tests.Support;
using static TorchSharp.torch;

namespace PeftHost.Tests.Bench;

/// <summary>
/// The `anchors` suite's PyTorch reference (bench/PeftHost.Bench/scripts/llama_reference.py) computes the model PeftHost
/// computes: the same next-token NLL from the same weights, so its tokens/s are those of the same work. Skipped where
/// python3 has no torch (the suite installs Debian's python3-torch; a test does not).
/// </summary>
public class AnchorsReferenceTests
{
    [SkippableFact]
    public void The_PyTorch_reference_gives_PeftHosts_NLL_on_stories260k()
    {
        var python = ReferencePython.TryFind();
        Skip.If(python is null, "python3 cannot import torch (apt-get install python3-torch)");
        // stories260k has grouped-query attention (8 heads, 4 KV heads): RoPE, GQA, norms and the MLP all count.
        var rng = new Random(3);
        int[] ids = [1, .. Enumerable.Range(0, 63).Select(_ => rng.Next(3, 512))];
        double peft;
        using (var model = ModelLoader.Load(TestPaths.Stories260k))
        using (no_grad())
        {
            var row = tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
            peft = LanguageModelLoss.Compute(model.Forward(row), row).item<float>();
        }
        double reference = python!.Nll(TestPaths.Stories260k, ids);
        Assert.InRange(reference - peft, -1e-4, 1e-4);
    }
}
