namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>
/// Resolves a path to the one the file system would really open: every symbolic link along it is
/// followed, component by component, so a link anywhere in the path (not only the last part) is seen,
/// and <c>..</c> is applied after the link before it, as the kernel does. Components that do not
/// exist yet (a file about to be written) are kept as written.
/// </summary>
public static class RealPath
{
    private const int MaxLinkHops = 40;

    /// <summary>The real absolute path of <paramref name="path"/> (which must be absolute).</summary>
    /// <exception cref="IOException">The links loop or nest deeper than the system allows.</exception>
    public static string Resolve(string path)
    {
        if (!Path.IsPathFullyQualified(path)) throw new ArgumentException($"'{path}' is not an absolute path", nameof(path));
        int hops = 0;
        string current = Path.GetPathRoot(path)!;
        var pending = new Stack<string>();
        PushParts(pending, path);
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".") continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string next = Path.Combine(current, part);
            string? target = LinkTargetOf(next);
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxLinkHops) throw new IOException($"{path}: too many levels of symbolic links");
            // A relative target continues from the link's folder; an absolute one starts over at its root.
            if (Path.IsPathFullyQualified(target)) current = Path.GetPathRoot(target)!;
            PushParts(pending, target);
        }
        return current;
    }

    /// <summary>True when <paramref name="path"/> equals <paramref name="root"/> or lies inside it (both real, absolute).</summary>
    public static bool IsUnder(string path, string root)
    {
        if (root == Path.GetPathRoot(root)) return path.StartsWith(root, StringComparison.Ordinal);
        string r = Path.TrimEndingDirectorySeparator(root);
        string p = Path.TrimEndingDirectorySeparator(path);
        return p.Equals(r, StringComparison.Ordinal) || p.StartsWith(r + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    private static string? LinkTargetOf(string path)
    {
        var file = new FileInfo(path);
        // FileInfo sees links to folders too (a link is a file entry); Exists is false for dangling links, so ask LinkTarget directly.
        try { return file.LinkTarget; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static void PushParts(Stack<string> pending, string path)
    {
        string root = Path.GetPathRoot(path) ?? "";
        var parts = path[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = parts.Length - 1; i >= 0; i--) pending.Push(parts[i]);
    }
}
