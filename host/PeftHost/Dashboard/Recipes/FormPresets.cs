using System.Text.Json;
using System.Text.Json.Nodes;
using PeftHost.Core.IO;

namespace PeftHost.Cli.Dashboard.Recipes;

/// <summary>
/// Named presets of recipe forms: for each recipe, the <c>--set</c> values of its saved forms, in one
/// JSON file per recipe (<c>&lt;folder&gt;/lora.json</c>: <c>{ "fast": { "steps": "12" } }</c>), written
/// atomically. Only the changed values are kept, so a preset still means "these --set values" when
/// the recipe's defaults change.
/// </summary>
/// <param name="folder">Where the files go (the dashboard uses <c>.pefthost/presets/</c> in the workspace).</param>
public sealed class FormPresets(string folder)
{
    /// <summary>The folder holding the preset files.</summary>
    public string Folder { get; } = Path.GetFullPath(folder);

    /// <summary>The file holding <paramref name="recipeName"/>'s presets.</summary>
    public string FileOf(string recipeName) => Path.Combine(Folder, Path.GetFileNameWithoutExtension(recipeName) + ".json");

    /// <summary>The preset names saved for <paramref name="recipeName"/>, sorted.</summary>
    /// <exception cref="FormatException">The file is not a presets file (the message names it).</exception>
    public IReadOnlyList<string> Names(string recipeName) => ReadAll(recipeName).Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The values of preset <paramref name="name"/> (parameter → text), or null when there is none.</summary>
    /// <exception cref="FormatException">The file is not a presets file (the message names it).</exception>
    public IReadOnlyDictionary<string, string>? Read(string recipeName, string name) =>
        ReadAll(recipeName).TryGetValue(name, out var values) ? values : null;

    /// <summary>Saves (or replaces) preset <paramref name="name"/>; the other presets of the recipe are kept.</summary>
    /// <exception cref="ArgumentException">The name is empty or has control characters.</exception>
    /// <exception cref="FormatException">The existing file is not a presets file; nothing is written.</exception>
    public void Save(string recipeName, string name, IReadOnlyDictionary<string, string> values)
    {
        if (name.Trim().Length == 0 || name.Any(char.IsControl)) throw new ArgumentException("a preset needs a name (no control characters)");
        var all = ReadAll(recipeName);
        all[name.Trim()] = values;
        var json = new JsonObject();
        foreach (var (preset, presetValues) in all.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var obj = new JsonObject();
            foreach (var (key, value) in presetValues) obj[key] = value;
            json[preset] = obj;
        }
        Directory.CreateDirectory(Folder);
        AtomicFile.WriteAllText(FileOf(recipeName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private Dictionary<string, IReadOnlyDictionary<string, string>> ReadAll(string recipeName)
    {
        string file = FileOf(recipeName);
        var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        if (!File.Exists(file)) return result;
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(file)); }
        catch (JsonException e) { throw new FormatException($"{file}: not JSON ({e.Message})"); }
        if (root is not JsonObject presets) throw new FormatException($"{file}: expected an object of presets ({{ \"name\": {{ \"param\": \"value\" }} }})");
        foreach (var (name, node) in presets)
        {
            if (node is not JsonObject values) throw new FormatException($"{file}: preset \"{name}\" is not an object of parameter values");
            var read = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in values)
            {
                if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
                    throw new FormatException($"{file}: preset \"{name}\", key \"{key}\": expected a string (the value as --set gives it)");
                read[key] = v.GetValue<string>();
            }
            result[name] = read;
        }
        return result;
    }
}
