namespace PeftHost.Core.Data;

/// <summary>A cheap identity for a file's content: full path, length and last write time.</summary>
internal static class FileFingerprint
{
    public static string Of(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        return $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
    }
}
