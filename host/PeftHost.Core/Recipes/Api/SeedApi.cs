using Jint;
using Jint.Native;
using PeftHost.Core.Recipes.Interop;
using TorchSharp;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// <c>setSeed(seed)</c>: seeds torch's global generators — the ones adapter initialisation
/// (LoRA's A, prompt embeddings), dropout and random model creation draw from — on the job thread
/// where the torch work runs, as <c>transformers.set_seed</c> does for torch. With it at the top
/// of a recipe, two runs give the same adapter, bit for bit. Data order and sampling keep their
/// own <c>seed</c> options.
/// </summary>
internal static class SeedApi
{
    /// <summary>Adds <c>setSeed</c>.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("setSeed", s.Function("setSeed", 1, values =>
        {
            var args = new ApiArguments("setSeed", values).AtMost(1, "(seed)");
            var value = args[0];
            if (!value.IsNumber() || value.AsNumber() is var n && (n != Math.Floor(n) || n < 0 || n > long.MaxValue))
                throw new RecipeApiException($"setSeed: seed must be a non-negative integer, got {JsDescribe.Value(value)}");
            long seed = (long)value.AsNumber();
            s.Job("setSeed", _ =>
            {
                torch.manual_seed(seed);
                if (torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
                return 0;
            });
            return JsValue.Undefined;
        }));
    }
}
