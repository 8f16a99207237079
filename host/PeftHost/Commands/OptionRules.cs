using System.CommandLine;
using System.CommandLine.Parsing;
using PeftHost.Sdk;

namespace PeftHost.Cli.Commands;

/// <summary>
/// The one place where option values are checked: each rule runs while the command line is parsed, so a bad
/// value is a usage error (exit 2, one line naming the option) before a command loads anything or writes output.
/// </summary>
public static class OptionRules
{
    /// <summary>
    /// Adds a rule to <paramref name="option"/>: <paramref name="check"/> throws <see cref="ArgumentException"/> or
    /// <see cref="ConfigException"/> for a value it refuses, with a message saying what is wrong.
    /// </summary>
    public static Option<T> Check<T>(this Option<T> option, Action<T> check)
    {
        option.Validators.Add(result =>
        {
            // Unconvertible text ('abc' for a number) is already a parse error; defaults were chosen by us.
            if (result.Implicit || result.Errors.Any()) return;
            try
            {
                check(result.GetValueOrDefault<T>());
            }
            catch (Exception e) when (e is ArgumentException or ConfigException or FormatException)
            {
                result.AddError($"{option.Name}: {e.Message}");
            }
        });
        return option;
    }

    /// <summary>A number that must be positive and finite.</summary>
    public static Option<T> Positive<T>(this Option<T> option) where T : System.Numerics.INumber<T> =>
        option.Check(v => Require(T.IsFinite(v) && v > T.Zero, $"must be a positive number, got {v}"));

    /// <summary>A number that must be zero or positive, and finite.</summary>
    public static Option<T> NonNegative<T>(this Option<T> option) where T : System.Numerics.INumber<T> =>
        option.Check(v => Require(T.IsFinite(v) && v >= T.Zero, $"must be 0 or more, got {v}"));

    /// <summary>An optional number that, when given, must be positive and finite.</summary>
    public static Option<T?> Positive<T>(this Option<T?> option) where T : struct, System.Numerics.INumber<T> =>
        option.Check(v => Require(v is not { } x || T.IsFinite(x) && x > T.Zero, $"must be a positive number, got {v}"));

    /// <summary>Throws the message as a refused value unless <paramref name="valid"/>.</summary>
    public static void Require(bool valid, string message)
    {
        if (!valid) throw new ArgumentException(message);
    }
}
