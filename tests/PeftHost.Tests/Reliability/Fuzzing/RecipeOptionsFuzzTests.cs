using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using PeftHost.Tests.Recipes;
using Xunit.Abstractions;

namespace PeftHost.Tests.Reliability.Fuzzing;

/// <summary>
/// Recipe options under attack: seeded structural mutations of valid option objects (and exotic
/// JavaScript values JSON cannot hold: NaN, Infinity, BigInt, symbols, functions, throwing getters
/// and proxies) passed to the real API functions from inside one recipe run, each call in a
/// try/catch. Every call must succeed or fail with an error prefixed by the function's name that
/// does not leak a .NET exception; the run must get through every case (no crash, no limit hit).
/// </summary>
public sealed class RecipeOptionsFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    /// <summary>Messages that show an internal failure rather than a refusal of the recipe's input (errors must start with the function's name, as "loadDataset: " or "loadDataset fields: ").</summary>
    private static readonly Regex Leak = new(
        @"\b\w+Exception\b|System\.|Object reference|Index was outside|Specified argument|Unable to cast|Sequence contains|given key|Nullable object|Input string was not|The value is not|reads option .* does not declare");

    private const string Texts = """["The moon was a big cookie.", "Tom looked at the moon.", "At night the moon came out.", "", "A cat sat.\n\nA dog ran."]""";
    private const string Instructions = """[{"q": "Add 2 and 3", "a": "5", "group": "a"}, {"q": "Name a color", "a": "blue", "group": "b"}, {"q": "Say hi", "a": "hi", "group": "a"}]""";
    private const string Labelled = """[{"body": "win money now", "label": "spam", "group": "a"}, {"body": "lunch at noon?", "label": "ham", "group": "a"}, {"body": "cheap pills", "label": "spam", "group": "b"}]""";

    public static TheoryData<string, string, string> Targets() => new()
    {
        { "loadDataset (text)", """{"format": "text", "maxLength": 32, "packing": true, "split": "paragraphs", "shuffle": true, "seed": 1, "limit": 4}""",
            $"loadDataset({Texts}, o)" },
        { "loadDataset (instruction)", """{"format": "instruction", "template": "alpaca", "fields": {"prompt": "q", "response": "a"}, "maxLength": 64, "where": {"group": ["a", "b"]}}""",
            $"loadDataset({Instructions}, o)" },
        { "loadDataset (classification)", """{"format": "classification", "labels": {"spam": "spam", "ham": "ham"}, "template": "{body}\nLabel:", "fields": {"label": "label"}, "fitField": "body", "balanceBy": "label", "where": {"group": "a"}}""",
            $"loadDataset({Labelled}, o)" },
        { "getPeftModel (lora)", """{"method": "lora", "r": 4, "loraAlpha": 8, "loraDropout": 0.1, "targetModules": ["q_proj", "v_proj"], "bias": "none", "rankPattern": {"q_proj": 2}, "alphaPattern": {"v_proj": 4}, "layersToTransform": [0, 1]}""",
            "getPeftModel(loadModel(\"models/stories260k\", { device: \"meta\" }), o)" },
        { "getPeftModel (ia3)", """{"method": "ia3", "targetModules": ["k_proj", "v_proj", "down_proj"], "feedforwardModules": ["down_proj"], "initIa3Weights": true}""",
            "getPeftModel(loadModel(\"models/stories260k\", { device: \"meta\" }), o)" },
    };

    private static readonly string[] Exotic =
    [
        "NaN", "Infinity", "-Infinity", "undefined", "-0", "2 ** 53 + 1", "1e308 * 10", "10n", "Symbol(\"s\")", "() => 1",
        "new Proxy({}, { get() { throw new Error(\"USER trap\"); }, ownKeys() { throw new Error(\"USER trap\"); } })",
        "({ get r() { throw new Error(\"USER getter\"); } })", "Object.create(null)", "[, , ]", "new Date(NaN)", "\"\\ud800\"",
        "new String(\"q_proj\")", "new Number(4)", "[\"q_proj\", 1, null]", "({ length: 2 ** 32 })", "\"x\".repeat(100000)",
    ];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Api_options(string name, string seedJson, string call)
    {
        const int cases = 400;
        var seed = Encoding.UTF8.GetBytes(seedJson);
        var keys = JsonDocument.Parse(seedJson).RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        var source = new StringBuilder("import { loadDataset, loadModel, getPeftModel, log } from \"peft\";\n");
        source.AppendLine("function attempt(i, make) {");
        source.AppendLine("  let o; try { o = make(); } catch (e) { log(`CASE ${i} setup`); return; }");
        source.AppendLine($"  try {{ {call}; log(`CASE ${{i}} ok`); }} catch (e) {{ log(`CASE ${{i}} error ` + JSON.stringify(String(e && e.message !== undefined ? e.message : e).replace(/[\\ud800-\\udfff]/g, \"?\"))); }}");
        source.AppendLine("}");
        var what = new string[cases];
        for (int i = 0; i < cases; i++)
        {
            var rng = new Random(unchecked(ParserFuzzTests.Seed * 31 + i));
            if (rng.Next(4) == 0)
            {
                string key = keys[rng.Next(keys.Length)], value = Exotic[rng.Next(Exotic.Length)];
                what[i] = $"{key} = {value}";
                source.AppendLine($"attempt({i}, () => {{ const o = JSON.parse({JsonSerializer.Serialize(seedJson)}); o[{JsonSerializer.Serialize(key)}] = {value}; return o; }});");
            }
            else
            {
                var (mutated, description) = JsonMutator.Mutate(rng, seed);
                what[i] = description;
                source.AppendLine($"attempt({i}, () => JSON.parse({JsonSerializer.Serialize(Encoding.UTF8.GetString(mutated))}));");
            }
        }
        var run = _h.Run("options.js", source.ToString(), "--max-memory", "1024");
        Assert.True(run.Code == 0, $"the run did not get through its cases:\n{run.Err}");

        var outcomes = run.Out.Split('\n').Where(l => l.StartsWith("CASE ", StringComparison.Ordinal)).ToList();
        Assert.Equal(cases, outcomes.Count);
        string function = call[..call.IndexOf('(')];
        var failures = new List<string>();
        int accepted = 0, refused = 0;
        foreach (var line in outcomes)
        {
            var parts = line.Split(' ', 4);
            int i = int.Parse(parts[1]);
            if (parts[2] == "ok" || parts[2] == "setup") { accepted++; continue; }
            string message = JsonSerializer.Deserialize<string>(parts[3])!;
            refused++;
            bool userThrown = message.StartsWith("USER ", StringComparison.Ordinal);
            if (!userThrown && (Leak.IsMatch(message) || !(message.StartsWith(function + ": ", StringComparison.Ordinal) || message.StartsWith(function + " ", StringComparison.Ordinal))))
                failures.Add($"case {i} ({what[i]}): {message}");
        }
        string summary = $"recipe options, {name}: {cases} cases: {accepted} accepted, {refused} refused, {failures.Count} failures";
        output.WriteLine(summary + string.Concat(failures.Take(10).Select(f => "\n  FAIL " + f)));
        ReliabilityLog.Record("fuzz", summary);
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(refused > cases / 10, $"only {refused} refusals: the mutations are too gentle");
    }
}
