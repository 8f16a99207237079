using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.IO;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes;

/// <summary>How far a recipe run got, as <c>run.json</c> records it.</summary>
public enum RunStatus
{
    /// <summary>Started and not ended: still running, or killed.</summary>
    Running,

    /// <summary>The recipe ran to its end.</summary>
    Succeeded,

    /// <summary>An error or a sandbox limit ended it.</summary>
    Failed,

    /// <summary>Ctrl-C ended it.</summary>
    Cancelled,
}

/// <summary>
/// A run's <c>run.json</c>: the recipe (path and SHA-256 of its text), its <c>--set</c> values as typed, its limits,
/// when it started (and was resumed) and how it ended. <c>peft run --resume</c> reads it to continue the run.
/// </summary>
public sealed record RunRecord
{
    /// <summary>The file's name in the output folder.</summary>
    public const string FileName = "run.json";

    /// <summary>The recipe's full path.</summary>
    public required string Recipe { get; init; }

    /// <summary>The SHA-256 of the recipe's text when the run started (lower-case hex).</summary>
    public required string RecipeSha256 { get; init; }

    /// <summary>When the run first started (ISO 8601).</summary>
    public required string Started { get; init; }

    /// <summary>When it was resumed, oldest first.</summary>
    public IReadOnlyList<string> Resumed { get; init; } = [];

    /// <summary>The <c>--set</c> values, as typed, in order.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; }

    /// <summary>The sandbox limits.</summary>
    public required RecipeLimits Limits { get; init; }

    /// <summary>How far it got.</summary>
    public RunStatus Status { get; init; } = RunStatus.Running;

    /// <summary>The SHA-256 of a recipe file's text (lower-case hex).</summary>
    public static string HashOf(string recipePath) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(recipePath)));

    /// <summary>Writes <c>run.json</c> into <paramref name="folder"/> (atomically).</summary>
    public void Write(string folder)
    {
        var json = new JsonObject
        {
            ["recipe"] = Recipe,
            ["recipeSha256"] = RecipeSha256,
            ["started"] = Started,
            ["resumed"] = new JsonArray(Resumed.Select(r => (JsonNode?)r).ToArray()),
            ["status"] = Status.ToString().ToLowerInvariant(),
            ["parameters"] = new JsonObject(Parameters.Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value))),
            ["limits"] = new JsonObject
            {
                ["maxStatements"] = Limits.MaxStatements,
                ["timeoutSeconds"] = Limits.Timeout.TotalSeconds,
                ["maxMemoryBytes"] = Limits.MaxMemoryBytes,
            },
        };
        AtomicFile.WriteAllText(Path.Combine(folder, FileName), json.ToJsonString(Json.Indented));
    }

    /// <summary>Reads <c>run.json</c> from <paramref name="folder"/>; null when there is none.</summary>
    /// <exception cref="ConfigException">The file is not a run record (the message names the file and the key).</exception>
    public static RunRecord? Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        JsonObject json;
        try { json = StrictJson.ParseNode(File.ReadAllBytes(path)) as JsonObject ?? throw new ConfigException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new ConfigException($"{path}: invalid JSON at line {e.LineNumber + 1}: {e.Message}"); }
        string Text(JsonNode? node, string key) =>
            node is JsonValue v && v.TryGetValue(out string? s) ? s : throw new ConfigException($"{path}: '{key}' must be a string");
        string Required(string key) => Text(json[key], key);
        var parameters = json["parameters"] is JsonObject given
            ? given.Select(p => new KeyValuePair<string, string>(p.Key, Text(p.Value, $"parameters.{p.Key}"))).ToList()
            : throw new ConfigException($"{path}: 'parameters' must be an object of --set values");
        var defaults = new RecipeLimits();
        var limits = json["limits"] as JsonObject;
        double? Number(string key) => limits?[key] is JsonValue v && v.TryGetValue(out double d) ? d : null;
        string status = json["status"] is null ? "running" : Required("status");
        return new RunRecord
        {
            Recipe = Required("recipe"),
            RecipeSha256 = json["recipeSha256"] is null ? "" : Required("recipeSha256"), // runs recorded before the hash was kept
            Started = Required("started"),
            Resumed = json["resumed"] is JsonArray resumed ? resumed.Select((r, i) => Text(r, $"resumed[{i}]")).ToList() : [],
            Parameters = parameters,
            Limits = new RecipeLimits
            {
                MaxStatements = (long?)Number("maxStatements") ?? defaults.MaxStatements,
                Timeout = Number("timeoutSeconds") is double seconds ? TimeSpan.FromSeconds(seconds) : defaults.Timeout,
                MaxMemoryBytes = (long?)Number("maxMemoryBytes") ?? defaults.MaxMemoryBytes,
            },
            Status = Enum.TryParse<RunStatus>(status, ignoreCase: true, out var s) ? s
                : throw new ConfigException($"{path}: 'status' must be running, succeeded, failed or cancelled, got '{status}'"),
        };
    }
}
