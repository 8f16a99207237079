using PeftHost.Core.Quantization;
using PeftHost.Quantization;

namespace PeftHost.Tests.Quantization;

/// <summary>The quantizers the tests resolve by name, as the plugin host would.</summary>
internal static class QuantizationFixtures
{
    public static QuantizerRegistry Registry { get; } = new([new Nf4Quantizer(), new Fp4Quantizer(), new Int8Quantizer()]);

    /// <summary>A TinyStories-like paragraph for perplexity checks.</summary>
    public const string Story =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. " +
        "One day, she saw a big red ball under a tree. She ran to the ball and picked it up. " +
        "Her friend Tom came and said, \"Can I play with the ball too?\" Lily smiled and said, \"Yes, let's play together!\" " +
        "They played all day and had a lot of fun. When the sun went down, they went home happy.";
}
