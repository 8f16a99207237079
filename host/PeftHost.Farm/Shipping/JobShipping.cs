namespace PeftHost.Farm.Shipping;

/// <summary>
/// A silo's side of shipped jobs: it lays a job out in a folder of its own, <c>WORK/jobs/&lt;sweep&gt;/&lt;job&gt;-&lt;n&gt;/</c>
/// (<c>recipe/</c>, <c>workspace/</c>, <c>out/</c>), from blobs in its <see cref="BlobCache"/>; the output folder
/// starts as the job's shipped file list left it (a resumed job continues from the checkpoints shipped by the silo
/// that lost it), and an <see cref="OutputShipper"/> ships it back while the recipe runs.
/// </summary>
public sealed class JobShipping(BlobStore store, BlobCache cache, FarmSiloOptions options)
{
    /// <summary>The job as laid out on this silo; disposing stops shipping and deletes the folder.</summary>
    public sealed class Prepared(FarmJob local, string folder, OutputShipper shipper) : IDisposable
    {
        /// <summary>The job with this silo's paths.</summary>
        public FarmJob Job => local;

        /// <summary>Ships the output folder's last state (after the run ended).</summary>
        public void Finish() => shipper.Finish();

        /// <inheritdoc />
        public void Dispose()
        {
            shipper.Dispose();
            try
            {
                Directory.Delete(folder, recursive: true);
                string sweep = Path.GetDirectoryName(folder)!;
                if (!Directory.EnumerateFileSystemEntries(sweep).Any()) Directory.Delete(sweep); // the sweep's last job here
            }
            catch (IOException) { } // another slot's job of the sweep appeared meanwhile, or a file is still open
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Fetches what <paramref name="job"/> needs and lays it out.</summary>
    /// <exception cref="InvalidDataException">A blob is missing or damaged, or a path leaves its folder.</exception>
    public Prepared Prepare(FarmJob job)
    {
        string folder = Path.Combine(options.WorkFolder, "jobs", job.Sweep, $"{job.Name}-{Guid.NewGuid().ToString("N")[..8]}");
        string output = Path.Combine(folder, "out");
        Directory.CreateDirectory(output);
        try
        {
            foreach (var input in job.Inputs!)
                cache.Place(input, ShippedFile.Resolve(folder, input.Path), $"{job.Name}: {input.Path}", link: true);
            // Outputs are copied, not linked: the run appends to its logs and must not write into the cache.
            var restored = store.Files(job.Id);
            foreach (var file in restored.Values)
                cache.Place(file, ShippedFile.Resolve(output, file.Path), $"{job.Name}: out/{file.Path}", link: false);
            var local = new FarmJob
            {
                Id = job.Id,
                Sweep = job.Sweep,
                Name = job.Name,
                Recipe = ShippedFile.Resolve(folder, "recipe/" + Path.GetFileName(job.Recipe)),
                Workspace = Path.Combine(folder, "workspace"),
                OutputFolder = output,
                Assignments = job.Assignments,
            };
            Directory.CreateDirectory(local.Workspace);
            return new Prepared(local, folder, new OutputShipper(store, job.Id, output, restored));
        }
        catch
        {
            Directory.Delete(folder, recursive: true);
            throw;
        }
    }
}
