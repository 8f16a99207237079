using System.Text;

namespace PeftHost.Farm;

/// <summary>
/// <c>--grid key=v1,v2,…</c> options: the Cartesian product of their values, one job per combination, the first
/// grid varying slowest. Each job gets the sweep's fixed <c>--set</c> values, then its combination's.
/// </summary>
public sealed class SweepGrid
{
    private readonly List<(string Key, string[] Values)> _axes = [];

    /// <summary>Parses the <c>--grid</c> values.</summary>
    /// <exception cref="ArgumentException">A malformed grid (the message names it).</exception>
    public SweepGrid(IEnumerable<string> grids)
    {
        foreach (string grid in grids)
        {
            int eq = grid.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--grid expects key=v1,v2,…, got '{grid}'");
            string key = grid[..eq].Trim(), list = grid[(eq + 1)..];
            string[] values = list.Split(',').Select(v => v.Trim()).ToArray();
            if (values.Any(v => v.Length == 0)) throw new ArgumentException($"--grid {grid}: an empty value (write key=v1,v2,…)");
            if (values.Distinct().Count() != values.Length) throw new ArgumentException($"--grid {grid}: a value is repeated");
            if (_axes.Any(a => a.Key == key)) throw new ArgumentException($"--grid {key} is given twice; list all its values in one --grid");
            _axes.Add((key, values));
        }
    }

    /// <summary>Parses one <c>--grid</c> value (for option validation).</summary>
    public static void Check(string grid) => _ = new SweepGrid([grid]);

    /// <summary>The keys the grid varies.</summary>
    public IReadOnlyList<string> Keys => _axes.Select(a => a.Key).ToList();

    /// <summary>Every combination as <c>key=value</c> assignments, in grid order (one empty combination without grids).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Combinations()
    {
        IEnumerable<IReadOnlyList<string>> product = [[]];
        foreach (var (key, values) in _axes)
            product = product.SelectMany(prefix => values.Select(v => (IReadOnlyList<string>)[.. prefix, $"{key}={v}"])).ToList();
        return product.ToList();
    }

    /// <summary>A job's folder name: its assignments joined by '_', characters a file name should not hold as '-'.</summary>
    public static string JobName(IReadOnlyList<string> combination)
    {
        if (combination.Count == 0) return "job";
        var name = new StringBuilder();
        foreach (char c in string.Join("_", combination))
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '=' or '.' or '-' or '+' or '_' ? c : '-');
        return name.ToString();
    }
}
