using System.Text;

namespace PeftHost.Core.Tokenization;

/// <summary>
/// Unicode NFC (canonical decomposition, canonical ordering, canonical composition), as a
/// <c>tokenizer.json</c> "NFC" normalizer asks, from tables compiled into the program
/// (<c>UnicodeNfc.Data.cs</c>). <see cref="string.Normalize()"/> cannot be used: PeftHost runs with
/// invariant globalization, where it has no Unicode data and leaves "Cafe\u0301" unchanged.
/// </summary>
internal static partial class UnicodeNfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, int[]> Decompositions = ReadDecompositions();
    private static readonly Dictionary<int, int> CombiningClasses = ReadPairs(CombiningClassData);
    private static readonly Dictionary<long, int> Compositions = ReadCompositions();

    /// <summary>The NFC form of <paramref name="text"/>.</summary>
    public static string Normalize(string text)
    {
        // Text below U+0300 (ASCII, Latin-1, most of Latin Extended) is NFC as it stands.
        if (!text.AsSpan().ContainsAnyExceptInRange('\0', '\u02FF'))
            return text;
        var codePoints = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes())
            Decompose(rune.Value, codePoints);
        Reorder(codePoints);
        Compose(codePoints);
        var result = new StringBuilder(text.Length);
        foreach (var codePoint in codePoints)
            result.Append(char.ConvertFromUtf32(codePoint));
        return result.ToString();
    }

    private static int CombiningClass(int codePoint) => CombiningClasses.GetValueOrDefault(codePoint);

    private static void Decompose(int codePoint, List<int> output)
    {
        var s = codePoint - SBase;
        if (s is >= 0 and < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
        }
        else if (Decompositions.TryGetValue(codePoint, out var decomposition))
            output.AddRange(decomposition);
        else
            output.Add(codePoint);
    }

    /// <summary>Canonical ordering: each run of combining marks stably sorted by combining class.</summary>
    private static void Reorder(List<int> codePoints)
    {
        for (var i = 1; i < codePoints.Count; i++)
        {
            var mark = codePoints[i];
            var cc = CombiningClass(mark);
            if (cc == 0)
                continue;
            var j = i;
            for (; j > 0 && CombiningClass(codePoints[j - 1]) > cc; j--)
                codePoints[j] = codePoints[j - 1];
            codePoints[j] = mark;
        }
    }

    /// <summary>Canonical composition: each mark joins the last starter unless a mark of its class or a starter is between.</summary>
    private static void Compose(List<int> codePoints)
    {
        if (codePoints.Count == 0)
            return;
        var starter = 0;
        // 256: text starting with a mark has no starter yet, so nothing composes until one comes.
        var lastClass = CombiningClass(codePoints[0]) == 0 ? 0 : 256;
        var write = 1;
        for (var read = 1; read < codePoints.Count; read++)
        {
            var c = codePoints[read];
            var cc = CombiningClass(c);
            // lastClass 0: c follows the starter directly; otherwise the marks between must all rank below c.
            if ((lastClass == 0 || lastClass < cc) && Composite(codePoints[starter], c) is { } composite)
            {
                codePoints[starter] = composite;
                continue;
            }
            if (cc == 0)
                starter = write;
            lastClass = cc;
            codePoints[write++] = c;
        }
        codePoints.RemoveRange(write, codePoints.Count - write);
    }

    private static int? Composite(int first, int second)
    {
        var l = first - LBase;
        if (l is >= 0 and < LCount && second - VBase is >= 0 and < VCount)
            return SBase + (l * VCount + second - VBase) * TCount;
        var s = first - SBase;
        if (s is >= 0 and < SCount && s % TCount == 0 && second - TBase is > 0 and < TCount)
            return first + second - TBase;
        return Compositions.TryGetValue(((long)first << 21) | (uint)second, out var composite) ? composite : null;
    }

    private static Dictionary<int, int[]> ReadDecompositions()
    {
        var table = new Dictionary<int, int[]>();
        for (var i = 0; i < DecompositionData.Length; i += 2 + DecompositionData[i + 1])
            table[DecompositionData[i]] = DecompositionData.Slice(i + 2, DecompositionData[i + 1]).ToArray();
        return table;
    }

    private static Dictionary<int, int> ReadPairs(ReadOnlySpan<int> data)
    {
        var table = new Dictionary<int, int>(data.Length / 2);
        for (var i = 0; i < data.Length; i += 2)
            table[data[i]] = data[i + 1];
        return table;
    }

    private static Dictionary<long, int> ReadCompositions()
    {
        var table = new Dictionary<long, int>(CompositionData.Length / 3);
        for (var i = 0; i < CompositionData.Length; i += 3)
            table[((long)CompositionData[i] << 21) | (uint)CompositionData[i + 1]] = CompositionData[i + 2];
        return table;
    }
}
