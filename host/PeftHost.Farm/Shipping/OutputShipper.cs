namespace PeftHost.Farm.Shipping;

/// <summary>
/// Ships a running job's output folder back as it is written: every <see cref="Every"/> (and once more at the end)
/// the files new or changed since the last pass are stored as blobs and entered in the job's file list, oldest
/// written first; files that disappeared (rotated-away checkpoints) are taken out of it. The submitter collects
/// from that list, and a silo resuming the job starts from it.
/// </summary>
public sealed class OutputShipper : IDisposable
{
    /// <summary>How often a running job's folder is shipped.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    private readonly BlobStore _store;
    private readonly string _jobId;
    private readonly string _folder;
    private readonly Dictionary<string, ShippedFile> _shipped;
    private readonly Dictionary<string, (DateTime, long, string)> _hashes = [];
    private readonly Lock _passing = new();
    private readonly Timer _timer;
    private bool _stopped;

    /// <summary>Starts shipping <paramref name="folder"/>, whose files in <paramref name="restored"/> came from the list already.</summary>
    public OutputShipper(BlobStore store, string jobId, string folder, Dictionary<string, ShippedFile> restored)
    {
        _store = store;
        _jobId = jobId;
        _folder = folder;
        _shipped = new Dictionary<string, ShippedFile>(restored);
        _timer = new Timer(_ => { try { Ship(); } catch (Exception) { /* Redis busy or a file in flux: the next pass retries */ } }, null, Every, Every);
    }

    /// <summary>One pass: ships what changed since the last one.</summary>
    public void Ship()
    {
        lock (_passing)
        {
            if (_stopped) return;
            var now = ShippedFile.Scan(_folder, hashes: _hashes);
            foreach (var file in now)
            {
                if (_shipped.TryGetValue(file.Path, out var before) && before.Sha256 == file.Sha256) continue;
                if (!_store.Put(file.Sha256, Path.Combine(_folder, file.Path)) && !_store.Has(file.Sha256)) continue; // changed while read
                _store.SetFile(_jobId, file);
                _shipped[file.Path] = file;
            }
            var present = now.Select(f => f.Path).ToHashSet();
            foreach (string gone in _shipped.Keys.Where(p => !present.Contains(p)).ToList())
            {
                _store.RemoveFile(_jobId, gone);
                _shipped.Remove(gone);
            }
        }
    }

    /// <summary>Stops the timer and ships the folder's final state.</summary>
    public void Finish()
    {
        _timer.Dispose();
        Ship();
        lock (_passing) _stopped = true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _timer.Dispose();
        lock (_passing) _stopped = true;
    }
}
