using PeftHost.Core.Checkpoints;
using PeftHost.Core.IO;
using PeftHost.Core.Training.Optimization;
using PeftHost.Core.Training.Precision;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftHost.Core.Training.Checkpointing;

/// <summary>
/// Writes and restores a resumable checkpoint folder:
/// <c>trainable.safetensors</c> (the trainable parameters by name; float32 masters where kept),
/// <c>optimizer.safetensors</c> (the optimizer's state by name, step counts in the metadata) and
/// <c>trainer_state.json</c> (position, schedule, random state, histories), beside the trained adapters in
/// PEFT's layout (<c>adapter_config.json</c>, <c>adapter_model.safetensors</c>, as <c>saveAdapter</c> writes them)
/// when the trainer is given a writer for them, so the folder loads as an adapter too. The folder is staged
/// next to its destination and renamed into place, so a crash never leaves half a checkpoint.
/// </summary>
internal static class TrainingCheckpoint
{
    public const string TrainableFile = "trainable.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    private const string StepsKey = "steps";
    private const string FormatKey = "format";

    /// <summary>The optimizer file's format, naming the optimizer ("pefthost-adamw", "pefthost-adamw_8bit"): one run's state cannot be read by the other.</summary>
    private static string FormatOf(IOptimizer optimizer) => "pefthost-" + optimizer.Kind;

    public static void Save(string target, MasterWeights weights, IOptimizer optimizer, TrainerState state, Action<string>? writeAdapters)
    {
        using var staging = StagingDirectory.Create(target);
        var trainable = weights.Optimized.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Value)).ToList();
        SafeTensorsWriter.Write(Path.Combine(staging.Path, TrainableFile), trainable, new Dictionary<string, string> { ["format"] = "pefthost-training" });
        var (moments, steps) = optimizer.State();
        SafeTensorsWriter.Write(Path.Combine(staging.Path, OptimizerFile), moments, new Dictionary<string, string>
        {
            [FormatKey] = FormatOf(optimizer),
            [StepsKey] = JsonSerializer.Serialize(steps),
            ["betas"] = $"{optimizer.Beta1},{optimizer.Beta2}",
            ["eps"] = optimizer.Epsilon.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        });
        writeAdapters?.Invoke(staging.Path);
        state.Save(staging.Path); // last: a folder with trainer_state.json is complete
        staging.Commit();
    }

    public static TrainerState Load(string directory, MasterWeights weights, IOptimizer optimizer, Device device)
    {
        var state = TrainerState.Load(directory);
        LoadWeights(directory, weights, device);
        using var scope = NewDisposeScope();
        using (var file = SafeTensorsFile.Open(Path.Combine(directory, OptimizerFile)))
        {
            if (file.Metadata.TryGetValue(FormatKey, out var format) && format != FormatOf(optimizer))
                throw new InvalidDataException($"{directory}: the checkpoint's optimizer state is '{format}', this run's optimizer '{optimizer.Kind}' cannot resume from it");
            if (!file.Metadata.TryGetValue(StepsKey, out var stepsJson))
                throw new InvalidDataException($"{directory}: {OptimizerFile} has no step counts");
            var steps = JsonSerializer.Deserialize<Dictionary<string, long>>(stepsJson) ?? [];
            optimizer.LoadState(key => file.Entries.ContainsKey(key) ? file.Read(key) : null, steps);
        }
        return state;
    }

    /// <summary>Loads a checkpoint's trainable parameters (full precision where masters are kept) into <paramref name="weights"/>.</summary>
    public static void LoadWeights(string directory, MasterWeights weights, Device device)
    {
        using var scope = NewDisposeScope();
        using (var file = SafeTensorsFile.Open(Path.Combine(directory, TrainableFile)))
        {
            var names = weights.Optimized.Select(t => t.Name).ToArray();
            var missing = names.Where(n => !file.Entries.ContainsKey(n)).ToArray();
            var extra = file.Entries.Keys.Where(k => !names.Contains(k)).ToArray();
            if (missing.Length > 0 || extra.Length > 0)
                throw new InvalidDataException($"{directory}: the checkpoint's trainable parameters do not match the run's" +
                    (missing.Length > 0 ? $"; missing: {string.Join(", ", missing.Take(5))}" : "") +
                    (extra.Length > 0 ? $"; unexpected: {string.Join(", ", extra.Take(5))}" : ""));
            for (int i = 0; i < names.Length; i++)
            {
                var like = weights.Optimized[i].Value;
                var saved = file.Read(names[i]);
                if (!saved.shape.SequenceEqual(like.shape))
                    throw new InvalidDataException($"{directory}: '{names[i]}' has shape [{string.Join(", ", saved.shape)}] in the checkpoint, [{string.Join(", ", like.shape)}] in the run");
                weights.Load(i, saved.to(like.dtype, device));
            }
        }
    }
}
