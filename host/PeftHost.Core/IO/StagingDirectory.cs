namespace PeftHost.Core.IO;

/// <summary>
/// A folder built next to its destination and moved into place on <see cref="Commit"/>; disposed
/// without a commit, it is deleted. Files already in the destination that the new content does
/// not replace are kept (the user's files are never removed).
/// </summary>
public sealed class StagingDirectory : IDisposable
{
    private readonly string _target;
    private bool _committed;

    private StagingDirectory(string target, string path)
    {
        _target = target;
        Path = path;
    }

    /// <summary>The folder to write into.</summary>
    public string Path { get; }

    /// <summary>Creates a staging folder for <paramref name="target"/>.</summary>
    public static StagingDirectory Create(string target)
    {
        string full = System.IO.Path.GetFullPath(target);
        string parent = System.IO.Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{target}' has no parent folder");
        Directory.CreateDirectory(parent);
        string path = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(full)}.staging-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return new StagingDirectory(full, path);
    }

    /// <summary>Moves the staged content into the destination.</summary>
    public void Commit()
    {
        if (!Directory.Exists(_target))
        {
            Directory.Move(Path, _target);
        }
        else
        {
            foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
            {
                string destination = System.IO.Path.Combine(_target, System.IO.Path.GetRelativePath(Path, file));
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(destination)!);
                File.Move(file, destination, overwrite: true);
            }
            Directory.Delete(Path, recursive: true);
        }
        _committed = true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_committed || !Directory.Exists(Path)) return;
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
