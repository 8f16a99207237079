using System.Globalization;
using Jint;
using Jint.Native;
using PeftHost.Core.Data;
using PeftHost.Core.Recipes.Interop;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>loadDataset</c>: records from a file (JSONL, CSV/TSV, Parquet, text) or from the recipe itself, and how they become examples.</summary>
internal static class DatasetApi
{
    /// <summary>Options of <c>loadDataset</c>.</summary>
    public static readonly OptionSchema LoadDatasetOptions = new("loadDataset",
        new OptionSpec("format", OptionKind.String, "\"text\" (causal LM), \"instruction\" (prompt → response), \"classification\" (prompt → label word) or \"chat\" (conversations rendered with the model's chat template); default: from the fields."),
        new OptionSpec("maxLength", OptionKind.Integer, "Tokens per example at most (default 256)."),
        new OptionSpec("packing", OptionKind.Boolean, "text: pack documents into blocks of maxLength (default true) instead of one padded example each; chat: pack whole conversations into sequences of up to maxLength, attention kept within each (default false)."),
        new OptionSpec("chatFormat", OptionKind.String, "chat: the conversations' layout, \"messages\" (OpenAI role/content), \"sharegpt\" (from/value) or \"alpaca\" (instruction/input/output); default: from the fields."),
        new OptionSpec("messages", OptionKind.ObjectArray, "chat: build each conversation from the record's fields: [{ role, content: \"text with {field} placeholders\" }, …]."),
        new OptionSpec("trainOnResponsesOnly", OptionKind.Boolean, "chat: supervise only the assistant's turns (default true); false trains on every token."),
        new OptionSpec("template", OptionKind.String, "instruction: \"alpaca\" (default), \"chat\" or a text with {prompt}/{input}; classification: the prompt with {field} placeholders (default \"{text}\\nLabel:\")."),
        new OptionSpec("fields", OptionKind.Object, "Field names: { text, prompt, input, response, label }."),
        new OptionSpec("labels", OptionKind.Object, "classification: the labels (an array) or label → word (an object)."),
        new OptionSpec("fitField", OptionKind.String, "classification: the field shortened when a prompt is too long (default: the template's first); chat with messages: the field shortened when a conversation is longer than maxLength."),
        new OptionSpec("split", OptionKind.String, "Plain text files: \"paragraphs\" (default), \"lines\" or \"document\"."),
        new OptionSpec("where", OptionKind.Object, "Keep the records whose fields have these values: { field: value | [values] }."),
        new OptionSpec("balanceBy", OptionKind.String, "Keep as many records of each value of this field as the rarest value has."),
        new OptionSpec("shuffle", OptionKind.Boolean, "Shuffle the records (seeded) before limit (default false)."),
        new OptionSpec("seed", OptionKind.Integer, "Seeds balanceBy and shuffle (default 42)."),
        new OptionSpec("limit", OptionKind.Integer, "Keep the first N records only (after where, balanceBy and shuffle)."),
        new OptionSpec("streaming", OptionKind.Boolean, "Read the file while training instead of loading it whole, for data larger than memory (train only; no balanceBy or shuffle)."),
        new OptionSpec("shuffleBuffer", OptionKind.Integer, "streaming: examples held for shuffling (default 1000)."));

    /// <summary>Adds the function.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("loadDataset", s.Function("loadDataset", 2, values =>
        {
            var args = new ApiArguments("loadDataset", values).AtMost(2, "(path | records, { format, maxLength, … })");
            var options = LoadDatasetOptions.Read(args[1]);
            int? limit = options.Int("limit");
            if (limit is < 1) throw new RecipeApiException($"loadDataset: limit must be at least 1, got {limit}");
            var where = Where(options);
            string? balanceBy = options.String("balanceBy");
            bool shuffle = options.Bool("shuffle", false);
            long seed = options.Long("seed") ?? 42;
            string name;
            string? real = null;
            IReadOnlyList<DataRecord>? inline = null;
            var split = Split(options.String("split", "paragraphs"));
            if (options.Bool("streaming", false))
                return Handle(s, StreamedDataset(s, args[0], options, where, limit));
            if (options.Has("shuffleBuffer")) throw new RecipeApiException("loadDataset: shuffleBuffer applies to streaming: true only");
            if (args[0].IsArray())
            {
                name = "records";
                inline = Inline(args[0]);
            }
            else
            {
                name = args.String(0, "path (or an array of records)");
                real = s.Paths.Resolve(name, Sandbox.PathAccess.Read, "loadDataset");
            }
            var records = s.Job("loadDataset", job =>
            {
                if (real is not null && !File.Exists(real)) throw new FileNotFoundException($"'{name}': no such file");
                var limits = DataLimits.Within(s.Limits.MaxMemoryBytes);
                IRecordSource source = real is null ? new RecordListSource(inline!) : RecordSource.Open(real, split, limits);
                foreach (var (field, values) in where) source = source.WhereField(field, values);
                // Everything below keeps the records in memory: bounded by the run's --max-memory, which thus covers this host step too.
                source = source.WithinMemory(limits, "the limit is --max-memory");
                if (balanceBy is not null) source = source.BalanceBy(balanceBy, seed);
                var read = new List<DataRecord>();
                foreach (var r in source.Read())
                {
                    job.Cancellation.ThrowIfCancellationRequested();
                    read.Add(r);
                    if (!shuffle && read.Count == limit) break;
                }
                if (shuffle)
                    read = DeterministicShuffle.Shuffled(read, seed);
                return limit is int n && read.Count > n ? read.Take(n).ToList() : read;
            });
            if (records.Count == 0)
                throw new RecipeApiException($"loadDataset: '{name}' has no records" + (where.Count > 0 || balanceBy is not null ? " left after where/balanceBy" : ""));
            var fields = DatasetShapes.Fields(options, records);
            string format = DatasetShapes.Format(options.String("format"), records, fields);
            if (format != "chat") CheckFields(format, records, fields);
            var shape = Guard(() => DatasetShapes.Shape(format, options, fields, records));
            return Handle(s, new RecipeDataset(name, format, records, shape));
        }));
    }

    /// <summary>The JS handle of a dataset, with its <c>split</c> method.</summary>
    public static JsValue Handle(RecipeSession s, RecipeDataset dataset) => s.Handles.Create("dataset", dataset, h =>
    {
        h.Value("name", dataset.Name)
            .Value("format", dataset.Format)
            .Value("size", dataset.Streamed ? null : dataset.Records.Count)
            .Value("streaming", dataset.Streamed)
            .Method("split", s.Function("split", 2, values =>
            {
                dataset.RequireInMemory("dataset.split");
                var args = new ApiArguments("dataset.split", values).AtMost(2, "(validationFraction, { seed })");
                if (!args[0].IsNumber()) throw new RecipeApiException($"dataset.split: validationFraction must be a number, got {JsDescribe.Value(args[0])}");
                long seed = SplitOptions.Read(args[1]).Long("seed") ?? 42;
                var (train, validation) = dataset.Split(args[0].AsNumber(), seed);
                return JsConvert.Object(s.Engine, [new("train", Handle(s, train)), new("validation", Handle(s, validation))]);
            }));
    });

    /// <summary>
    /// A dataset read from its file while training: only the first records are read now, to check the
    /// fields and find the format; nothing is capped by --max-memory, since nothing is kept whole.
    /// </summary>
    private static RecipeDataset StreamedDataset(RecipeSession s, JsValue path, OptionValues options, List<(string Field, string[] Values)> where, int? limit)
    {
        if (path.IsArray()) throw new RecipeApiException("loadDataset: streaming reads a file; records given in the recipe are in memory already");
        if (options.Has("balanceBy")) throw new RecipeApiException("loadDataset: balanceBy needs every record at once, which a streamed dataset never holds; drop one of streaming and balanceBy");
        if (options.Bool("shuffle", false)) throw new RecipeApiException("loadDataset: shuffle orders every record at once; a streamed dataset is shuffled by train through a buffer (shuffleBuffer)");
        int buffer = options.Int("shuffleBuffer") ?? StreamingDataset.DefaultShuffleBuffer;
        if (buffer < 1) throw new RecipeApiException($"loadDataset: shuffleBuffer must be at least 1, got {buffer}");
        string name = new ApiArguments("loadDataset", [path]).String(0, "path");
        string real = s.Paths.Resolve(name, Sandbox.PathAccess.Read, "loadDataset");
        var (source, first) = s.Job("loadDataset", job =>
        {
            if (!File.Exists(real)) throw new FileNotFoundException($"'{name}': no such file");
            IRecordSource source = RecordSource.Open(real, Split(options.String("split", "paragraphs")), DataLimits.Within(s.Limits.MaxMemoryBytes));
            foreach (var (field, values) in where) source = source.WhereField(field, values);
            if (limit is int n) source = source.Take(n);
            return (source, source.Read().Take(FieldCheckRecords).ToList());
        });
        if (first.Count == 0)
            throw new RecipeApiException($"loadDataset: '{name}' has no records" + (where.Count > 0 ? " left after where" : ""));
        var fields = DatasetShapes.Fields(options, first);
        string format = DatasetShapes.Format(options.String("format"), first, fields);
        CheckFields(format, first, fields);
        return new RecipeDataset(name, format, first, DatasetShapes.Shape(format, options, fields, first)) { Stream = source, ShuffleBuffer = buffer };
    }

    /// <summary>Records a streamed dataset reads up front to find its fields and format.</summary>
    private const int FieldCheckRecords = 64;

    /// <summary>Options of <c>dataset.split</c>.</summary>
    public static readonly OptionSchema SplitOptions = new("dataset.split",
        new OptionSpec("seed", OptionKind.Integer, "Seeds which records are held out (default 42)."));

    /// <summary>The dataset behind a handle.</summary>
    public static RecipeDataset Expect(RecipeSession s, JsValue value, string caller, string parameter = "dataset") =>
        s.Handles.Expect<RecipeDataset>(value, caller, parameter, "a dataset from loadDataset");

    /// <summary>The <c>where</c> option as field → accepted values.</summary>
    private static List<(string Field, string[] Values)> Where(OptionValues options)
    {
        var result = new List<(string, string[])>();
        if (options.Object("where") is not { } where) return result;
        foreach (var key in where.GetOwnPropertyKeys(Jint.Runtime.Types.String))
        {
            var v = where.Get(key);
            string[] values = v.IsArray() ? v.AsArray().ToArray().Select(Text).ToArray() : [Text(v)];
            result.Add((key.ToString(), values));
        }
        return result;

        static string Text(JsValue v) => v.IsNumber() ? v.AsNumber().ToString(CultureInfo.InvariantCulture) : v.ToString();
    }

    private static TextSplit Split(string name) => name switch
    {
        "paragraphs" => TextSplit.Paragraphs,
        "lines" => TextSplit.Lines,
        "document" => TextSplit.Document,
        _ => throw new RecipeApiException($"loadDataset: split must be \"paragraphs\", \"lines\" or \"document\", got '{name}'"),
    };

    /// <summary>Records given in the recipe: an array of objects whose values become text fields.</summary>
    private static IReadOnlyList<DataRecord> Inline(JsValue array)
    {
        var items = array.AsArray().ToArray();
        var records = new List<DataRecord>(items.Length);
        for (int i = 0; i < items.Length; i++)
        {
            var item = items[i];
            if (item.IsString())
            {
                records.Add(new DataRecord(new Dictionary<string, string?> { ["text"] = item.AsString() }, "records", i + 1));
                continue;
            }
            if (!item.IsObject() || item.IsArray())
                throw new RecipeApiException($"loadDataset: record {i} must be an object (or a string of text), got {JsDescribe.Value(item)}");
            var obj = item.AsObject();
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var key in obj.GetOwnPropertyKeys(Jint.Runtime.Types.String))
            {
                var v = obj.Get(key);
                fields[key.ToString()] = v.IsNull() || v.IsUndefined() ? null
                    : v.IsNumber() ? v.AsNumber().ToString(CultureInfo.InvariantCulture)
                    : v.IsObject() ? JsConvert.ToJson(v, $"record {i}.{key}")!.ToJsonString() // nested values as JSON text, as JSONL gives them
                    : v.ToString();
            }
            records.Add(new DataRecord(fields, "records", i + 1));
        }
        return records;
    }

    /// <summary>A record that does not read as its format says, as the recipe's error (it names the file and line).</summary>
    private static T Guard<T>(Func<T> read)
    {
        try { return read(); }
        catch (DataFormatException e) { throw new RecipeApiException($"loadDataset: {e.Message}"); }
    }

    /// <summary>Checks the fields the format needs are in the first record (every record is checked when tokenized).</summary>
    private static void CheckFields(string format, IReadOnlyList<DataRecord> records, FieldMapping fields)
    {
        var needed = format switch
        {
            "text" => [fields.Text],
            "instruction" => new[] { fields.Prompt, fields.Response },
            _ => [fields.Label],
        };
        var first = records[0];
        foreach (var field in needed.Where(f => !first.Fields.ContainsKey(f)))
            throw new RecipeApiException($"loadDataset: {first.Origin}: {format} data needs a '{field}' field (has: {string.Join(", ", first.Fields.Keys)}); name it with fields: {{ … }}");
    }
}
