using PeftHost.Core.Chat;
using PeftHost.Core.Data;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Tokenization;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// The host side of a recipe's dataset: its records (read when loaded, so a bad file or a missing
/// field fails at <c>loadDataset</c>) and how they become training examples. Tokenization waits
/// until a model's tokenizer is known (<c>train</c>, <c>evaluate</c>) and is kept per tokenizer.
/// A streamed dataset (<see cref="Streamed"/>) keeps only its first records, read to check its fields;
/// training reads the rest from the file as it goes.
/// </summary>
internal sealed class RecipeDataset(string name, string format, IReadOnlyList<DataRecord> records, IDatasetShape shape)
{
    private readonly Dictionary<(TextTokenizer, ChatTemplate?), TokenizedDataset> _tokenized = new();

    /// <summary>A name for messages (the file, or "records").</summary>
    public string Name { get; } = name;

    /// <summary>"text", "instruction", "classification" or "chat".</summary>
    public string Format { get; } = format;

    /// <summary>The records.</summary>
    public IReadOnlyList<DataRecord> Records { get; } = records;

    /// <summary>How records become examples.</summary>
    public IDatasetShape Shape { get; } = shape;

    /// <summary>The file's records, read while training, when the dataset is streamed (loadDataset's <c>streaming</c>); null when held in memory.</summary>
    public IRecordSource? Stream { get; init; }

    /// <summary>Examples a streamed dataset holds for shuffling.</summary>
    public int ShuffleBuffer { get; init; } = StreamingDataset.DefaultShuffleBuffer;

    /// <summary>Whether the dataset is read from its file while training rather than held in memory.</summary>
    public bool Streamed => Stream is not null;

    /// <summary>True when the examples depend on the model's chat template (chat data).</summary>
    public bool NeedsChatTemplate => Shape is ConversationShape;

    /// <summary>
    /// What <c>train</c> reads under <paramref name="tokenizer"/> (and, for chat data, <paramref name="chatTemplate"/>):
    /// the file itself when streamed, else the tokenized examples.
    /// </summary>
    public ITrainingData TrainingData(TextTokenizer tokenizer, ChatTemplate? chatTemplate = null) =>
        Stream is { } stream ? new StreamingDataset(stream, ShapeFor(chatTemplate), tokenizer.AsTokenEncoder(), ShuffleBuffer) : Tokenized(tokenizer, chatTemplate);

    /// <summary>Refuses a streamed dataset where <paramref name="caller"/> needs all its examples at once.</summary>
    public void RequireInMemory(string caller)
    {
        if (Streamed)
            throw new RecipeApiException($"{caller}: '{Name}' is streamed (loadDataset's streaming option), and only train's training data can be; load it without streaming here");
    }

    /// <summary>
    /// The examples under <paramref name="tokenizer"/> and, for chat data, <paramref name="chatTemplate"/>
    /// (tokenized once per pair).
    /// </summary>
    public TokenizedDataset Tokenized(TextTokenizer tokenizer, ChatTemplate? chatTemplate = null)
    {
        var key = (tokenizer, NeedsChatTemplate ? chatTemplate : null);
        if (_tokenized.TryGetValue(key, out var done)) return done;
        if (Streamed) throw new InvalidOperationException($"'{Name}' is streamed; it has no in-memory examples");
        var examples = ShapeFor(chatTemplate).Tokenize(Records, tokenizer.AsTokenEncoder());
        if (examples.Count == 0) throw new ArgumentException($"dataset '{Name}' yields no examples (too short for maxLength, or empty)");
        return _tokenized[key] = new TokenizedDataset(examples, Name);
    }

    /// <summary>The shape with <paramref name="chatTemplate"/> filled in for chat data.</summary>
    private IDatasetShape ShapeFor(ChatTemplate? chatTemplate) =>
        Shape is ConversationShape conversations ? conversations with { Template = chatTemplate } : Shape;

    /// <summary>
    /// Splits off round(<paramref name="fraction"/> × records) records for validation (at least one
    /// of each part when there are two or more), chosen by a permutation seeded with <paramref name="seed"/>;
    /// both parts keep the original order.
    /// </summary>
    public (RecipeDataset Train, RecipeDataset Validation) Split(double fraction, long seed)
    {
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentException($"the validation fraction must be between 0 and 1 (exclusive), got {fraction}");
        int count = Records.Count;
        int validation = Math.Clamp((int)Math.Round(fraction * count), count >= 2 ? 1 : 0, Math.Max(0, count - 1));
        var order = DeterministicShuffle.Permutation(count, DeterministicShuffle.Combine(seed, 0x5EED_5917));
        var held = order.Take(validation).Order().Select(i => Records[i]).ToArray();
        var kept = order.Skip(validation).Order().Select(i => Records[i]).ToArray();
        return (new RecipeDataset($"{Name} (train)", Format, kept, Shape), new RecipeDataset($"{Name} (validation)", Format, held, Shape));
    }
}
