namespace PeftHost.Farm.Shipping;

/// <summary>
/// The submitter's side of shipped outputs: brings each job's shipped files into the job's folder under the sweep's
/// <c>--out</c> as they appear in the job's file list (each written to a temporary file, then renamed), and deletes
/// those taken out of the list (rotated-away checkpoints).
/// </summary>
public sealed class OutputCollector(BlobStore store, IReadOnlyList<FarmJob> jobs, Action<string> report)
{
    private readonly Dictionary<string, Dictionary<string, string>> _collected = jobs.ToDictionary(j => j.Id, _ => new Dictionary<string, string>(StringComparer.Ordinal));

    /// <summary>Files written so far.</summary>
    public int FilesWritten { get; private set; }

    /// <summary>One pass over every job's list.</summary>
    public void Collect()
    {
        foreach (var job in jobs)
        {
            var have = _collected[job.Id];
            var listed = store.Files(job.Id);
            foreach (var file in listed.Values)
            {
                if (have.TryGetValue(file.Path, out string? sha) && sha == file.Sha256) continue;
                try { store.Get(file.Sha256, ShippedFile.Resolve(job.OutputFolder, file.Path)); }
                catch (InvalidDataException e)
                {
                    if (store.Files(job.Id).GetValueOrDefault(file.Path)?.Sha256 != file.Sha256) continue; // replaced meanwhile: the next pass takes the new one
                    report($"[farm] {job.Name}: {file.Path} not collected: {e.Message}");
                    have[file.Path] = file.Sha256; // not retried each pass
                    continue;
                }
                have[file.Path] = file.Sha256;
                FilesWritten++;
            }
            foreach (string gone in have.Keys.Where(p => !listed.ContainsKey(p)).ToList())
            {
                try { File.Delete(ShippedFile.Resolve(job.OutputFolder, gone)); }
                catch (InvalidDataException) { } // a path refused when listed
                have.Remove(gone);
            }
        }
    }

    /// <summary>Deletes the jobs' file lists once collected (the blobs expire on their own).</summary>
    public void Forget()
    {
        foreach (var job in jobs) store.ForgetFiles(job.Id);
    }
}
