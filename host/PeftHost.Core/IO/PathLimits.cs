using System.Text;

namespace PeftHost.Core.IO;

/// <summary>
/// Linux's limits on paths (a name at most 255 bytes, a whole path at most 4,095), checked before a
/// path reaches the file system so that a path too long is reported in a sentence naming it rather
/// than by the runtime's generic "path too long" error after the fact.
/// </summary>
public static class PathLimits
{
    /// <summary>The longest file or folder name, in UTF-8 bytes (NAME_MAX).</summary>
    public const int MaxNameBytes = 255;

    /// <summary>The longest path, in UTF-8 bytes (PATH_MAX less the terminating NUL).</summary>
    public const int MaxPathBytes = 4095;

    /// <summary>Throws <see cref="PathTooLongException"/> when <paramref name="path"/> or one of its names is longer than the system allows.</summary>
    public static void Check(string path)
    {
        int pathBytes = Encoding.UTF8.GetByteCount(path);
        if (pathBytes > MaxPathBytes)
            throw new PathTooLongException($"{Shortened(path)}: the path is {pathBytes:N0} bytes long; the system allows at most {MaxPathBytes:N0}");
        foreach (var name in path.Split(Path.DirectorySeparatorChar))
        {
            int nameBytes = Encoding.UTF8.GetByteCount(name);
            if (nameBytes > MaxNameBytes)
                throw new PathTooLongException($"{Shortened(path)}: the name '{Shortened(name)}' is {nameBytes:N0} bytes long; a file or folder name may have at most {MaxNameBytes}");
        }
    }

    /// <summary>A long text cut in the middle, so that a message stays one readable line.</summary>
    private static string Shortened(string text) => text.Length <= 80 ? text : $"{text[..50]}…{text[^25..]}";
}
