using System.Text.RegularExpressions;

namespace PeftHost.Sdk.Tuners;

/// <summary>
/// A regular expression from an adapter config (<c>target_modules</c>, <c>exclude_modules</c>, <c>layers_pattern</c>,
/// <c>rank_pattern</c>…), which may come from a downloaded <c>adapter_config.json</c>: it must not be able to hang
/// the host with catastrophic backtracking. It runs on .NET's non-backtracking engine (linear time in the path);
/// the constructs that engine lacks but Python's <c>re</c> has (lookarounds, backreferences, atomic groups) run on
/// the backtracking engine with a match timeout, which ends in a <see cref="ConfigException"/> naming the key.
/// </summary>
public sealed class ModulePattern
{
    /// <summary>How long one match may take on the backtracking engine; a module path is matched in microseconds.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    private readonly Regex _regex;

    private ModulePattern(Regex regex, string pattern, string key)
    {
        _regex = regex;
        Pattern = pattern;
        Key = key;
    }

    /// <summary>The pattern as the config gave it.</summary>
    public string Pattern { get; }

    /// <summary>The config key it came from.</summary>
    public string Key { get; }

    /// <summary>A pattern that must match a whole path (Python's <c>re.fullmatch</c>, as PEFT uses for a string <c>target_modules</c>).</summary>
    /// <exception cref="ConfigException">It is not a valid regular expression, naming <paramref name="key"/>.</exception>
    public static ModulePattern FullMatch(string pattern, string key) => Create($"^(?:{pattern})\\z", pattern, key);

    /// <summary>A regular expression used as it is (<paramref name="expression"/> already holds the anchors it needs).</summary>
    /// <exception cref="ConfigException">It is not a valid regular expression, naming <paramref name="key"/>.</exception>
    public static ModulePattern Create(string expression, string pattern, string key)
    {
        try
        {
            try { return new ModulePattern(new Regex(expression, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking), pattern, key); }
            catch (NotSupportedException) { return new ModulePattern(new Regex(expression, RegexOptions.CultureInvariant, MatchTimeout), pattern, key); }
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"{key}: '{pattern}' is not a valid regular expression ({e.Message})", key);
        }
    }

    /// <summary>Whether the pattern matches <paramref name="path"/>.</summary>
    /// <exception cref="ConfigException">The match ran past <see cref="MatchTimeout"/>.</exception>
    public bool IsMatch(string path) => Match(path).Success;

    /// <summary>The match in <paramref name="path"/>.</summary>
    /// <exception cref="ConfigException">The match ran past <see cref="MatchTimeout"/>.</exception>
    public Match Match(string path)
    {
        try { return _regex.Match(path); }
        catch (RegexMatchTimeoutException)
        {
            throw new ConfigException(
                $"{Key}: the regular expression '{Pattern}' took more than {MatchTimeout.TotalSeconds:0.#} s to match the module '{path}' (catastrophic backtracking); simplify it", Key);
        }
    }
}
