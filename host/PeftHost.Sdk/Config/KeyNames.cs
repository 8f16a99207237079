using System.Text;

namespace PeftHost.Sdk;

/// <summary>Converts between PEFT's snake_case keys and the camelCase keys recipes use, and suggests near misses.</summary>
public static class KeyNames
{
    /// <summary><c>loraAlpha</c> → <c>lora_alpha</c>; snake_case input is returned as is.</summary>
    public static string ToSnake(string key)
    {
        var sb = new StringBuilder(key.Length + 4);
        foreach (char c in key)
        {
            if (char.IsUpper(c))
            {
                if (sb.Length > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary><c>lora_alpha</c> → <c>loraAlpha</c>.</summary>
    public static string ToCamel(string key)
    {
        var sb = new StringBuilder(key.Length);
        bool upper = false;
        foreach (char c in key)
        {
            if (c == '_') { upper = sb.Length > 0; continue; }
            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        return sb.ToString();
    }

    /// <summary>The candidate closest to <paramref name="input"/> by edit distance, if it is close enough to be a typo.</summary>
    public static string? DidYouMean(string input, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            int d = EditDistance(input.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (d < bestDistance) { bestDistance = d; best = candidate; }
        }
        // Accept up to a third of the word's length in edits (at least 2): "loraAlph" → "loraAlpha".
        return best is not null && bestDistance <= Math.Max(2, input.Length / 3) ? best : null;
    }

    /// <summary>Levenshtein distance with transpositions counted as one edit.</summary>
    public static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
