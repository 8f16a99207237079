using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Sdk;

/// <summary>
/// Tensor arithmetic that keeps alive the <see cref="Scalar"/> libtorch reads until libtorch returns.
/// <para>
/// Why: TorchSharp 0.107 frees a Scalar's native value in the Scalar's finalizer, and its methods pass the native
/// pointer to libtorch without keeping the managed Scalar reachable through the call. A Scalar that nothing holds (the
/// <c>1</c> that <c>a + b</c> makes for add's alpha, the <c>0.5</c> that <c>t * 0.5</c> converts) can be finalized by
/// a garbage collection that another thread starts while libtorch still reads it: a use after free that fails as
/// "Expected false to be true" in <c>Scalar::toFloat</c>, or quietly computes with whatever the freed memory holds by
/// then. It happened in a farm silo, whose other threads allocate all the time (dotnet/TorchSharp#1434 would dispose
/// those Scalars; 0.107 does not). So code that runs libtorch never lets TorchSharp make a Scalar of its own:
/// </para>
/// <list type="bullet">
/// <item>a sum of tensors is <c>a.Plus(b)</c> (or <c>a.add(b, TensorArithmetic.One)</c>), never <c>a + b</c>;</item>
/// <item>a number meets a tensor through <c>Plus</c>, <c>Minus</c>, <c>Times</c>, <c>DividedBy</c> or
/// <c>SubtractedFrom</c> here, or through a Scalar the code holds itself
/// (<c>using var eps = 1e-6.ToScalar(); x.clamp_min(eps)</c>).</item>
/// </list>
/// Each computes exactly what TorchSharp's operator computes (the same libtorch call), so results do not change.
/// <c>TemporaryScalarTests</c> scans the host and the bundled plugins for the calls that break the rule.
/// </summary>
public static class TensorArithmetic
{
    /// <summary>The number one, held for the life of the process: the alpha of every sum here.</summary>
    public static Scalar One { get; } = 1.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/>, broadcasting.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>Adds <paramref name="b"/> into <paramref name="a"/> in place; returns <paramref name="a"/>.</summary>
    public static Tensor AddInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><paramref name="a"/> + <paramref name="value"/>.</summary>
    public static Tensor Plus(this Tensor a, double value) => Held(a, value.ToScalar(), Add);

    /// <summary><paramref name="a"/> + <paramref name="value"/>. An integer keeps an integer tensor integer, as TorchSharp's operator with an integer does (so for every <c>long</c> overload here).</summary>
    public static Tensor Plus(this Tensor a, long value) => Held(a, value.ToScalar(), Add);

    /// <summary><paramref name="a"/> − <paramref name="value"/>.</summary>
    public static Tensor Minus(this Tensor a, double value) => Held(a, value.ToScalar(), Subtract);

    /// <summary><paramref name="a"/> − <paramref name="value"/>.</summary>
    public static Tensor Minus(this Tensor a, long value) => Held(a, value.ToScalar(), Subtract);

    /// <summary><paramref name="value"/> − <paramref name="a"/>.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double value) => Held(a, value.ToScalar(), SubtractFrom);

    /// <summary><paramref name="value"/> − <paramref name="a"/>.</summary>
    public static Tensor SubtractedFrom(this Tensor a, long value) => Held(a, value.ToScalar(), SubtractFrom);

    /// <summary><paramref name="a"/> × <paramref name="value"/>.</summary>
    public static Tensor Times(this Tensor a, double value) => Held(a, value.ToScalar(), Multiply);

    /// <summary><paramref name="a"/> × <paramref name="value"/>.</summary>
    public static Tensor Times(this Tensor a, long value) => Held(a, value.ToScalar(), Multiply);

    /// <summary><paramref name="a"/> ÷ <paramref name="value"/> (true division, as <c>/</c>).</summary>
    public static Tensor DividedBy(this Tensor a, double value) => Held(a, value.ToScalar(), Divide);

    /// <summary><paramref name="a"/> ÷ <paramref name="value"/> (true division, as <c>/</c>).</summary>
    public static Tensor DividedBy(this Tensor a, long value) => Held(a, value.ToScalar(), Divide);

    // The libtorch call behind each operator of TorchSharp's, given a Scalar that is held (static: nothing allocated per call).
    private static readonly Func<Tensor, Scalar, Tensor> Add = static (a, s) => a.add(s, One);
    private static readonly Func<Tensor, Scalar, Tensor> Subtract = static (a, s) => a.sub(s);
    private static readonly Func<Tensor, Scalar, Tensor> Multiply = static (a, s) => a.mul(s);
    private static readonly Func<Tensor, Scalar, Tensor> Divide = static (a, s) => a.div(s);
    private static readonly Func<Tensor, Scalar, Tensor> SubtractFrom = static (a, s) =>
    {
        using var negated = a.negative();
        return negated.add(s, One);
    };

    /// <summary>Runs <paramref name="operation"/> with <paramref name="held"/>, which lives until libtorch returns and is freed then.</summary>
    private static Tensor Held(Tensor a, Scalar held, Func<Tensor, Scalar, Tensor> operation)
    {
        using (held) return operation(a, held);
    }
}
