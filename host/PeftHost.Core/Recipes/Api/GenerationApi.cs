using Jint;
using Jint.Native;
using PeftHost.Core.Generation;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Tokenization;
using PeftHost.Sdk;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>generate</c>: greedy or sampled continuations of one prompt or a batch, optionally one adapter per row.</summary>
internal static class GenerationApi
{
    /// <summary>Options of <c>generate</c>.</summary>
    public static readonly OptionSchema GenerateOptions = new("generate",
        new("maxNewTokens", OptionKind.Integer, "Tokens to generate at most (default 64)."),
        new("doSample", OptionKind.Boolean, "Sample instead of greedy decoding (default false)."),
        new("temperature", OptionKind.Number, "Sampling temperature (default 1; needs doSample)."),
        new("topK", OptionKind.Integer, "Sample from the k most likely tokens (default 0 = all; needs doSample)."),
        new("topP", OptionKind.Number, "Nucleus sampling threshold (default 1 = off; needs doSample)."),
        new("repetitionPenalty", OptionKind.Number, "CTRL-style penalty on repeated tokens (default 1 = off)."),
        new("seed", OptionKind.Integer, "Seed for sampling (default: random)."),
        new("stopAtEos", OptionKind.Boolean, "Stop a row at the end-of-sequence token (default true)."),
        new("useCache", OptionKind.Boolean, "Decode through the KV cache (default true)."),
        new("addBos", OptionKind.Boolean, "Put BOS before each prompt (default: the tokenizer's add_bos_token)."),
        new("adapterNames", OptionKind.StringArray, "One adapter per prompt (\"__base__\" for none): a mixed-adapter batch."),
        new("tokenizer", OptionKind.Handle, "A tokenizer from loadTokenizer (default: the model folder's)."),
        new("returnFullText", OptionKind.Boolean, "Return prompt + continuation instead of the continuation alone (default false)."));

    private static readonly string[] SamplingOnly = ["temperature", "topK", "topP", "seed"];

    /// <summary>
    /// The decoding options <c>generate</c> and <c>chat</c> share (maxNewTokens, doSample, temperature, topK, topP,
    /// repetitionPenalty, seed): greedy unless doSample, and the sampling-only ones refused without it.
    /// </summary>
    public static GenerationOptions ReadDecoding(OptionValues options, string caller)
    {
        bool sample = options.Bool("doSample", false);
        if (!sample && SamplingOnly.FirstOrDefault(options.Has) is { } stray)
            throw new RecipeApiException($"{caller}: '{stray}' only applies when sampling; add doSample: true (greedy decoding is the default)");
        var settings = new GenerationOptions
        {
            MaxNewTokens = options.Int("maxNewTokens", 64),
            Temperature = sample ? options.Number("temperature", 1.0) : 0,
            TopK = options.Int("topK", 0),
            TopP = options.Number("topP", 1.0),
            RepetitionPenalty = options.Number("repetitionPenalty", 1.0),
            Seed = options.Long("seed"),
        };
        if (sample && settings.Temperature <= 0) throw new RecipeApiException($"{caller}: temperature must be > 0 when sampling");
        settings.Validate();
        return settings;
    }

    /// <summary>Adds the function.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("generate", s.Function("generate", 3, values =>
        {
            var args = new ApiArguments("generate", values).AtMost(3, "(model, prompt | prompts, { maxNewTokens, doSample, … })");
            var model = ModelApi.ExpectModel(s, args[0], "generate");
            bool batch = args[1].IsArray();
            var prompts = batch ? args.Strings(1, "prompts") : [args.String(1, "prompt (a string or an array of strings)")];
            var options = GenerateOptions.Read(args[2]);
            var settings = ReadDecoding(options, "generate") with
            {
                StopAtEos = options.Bool("stopAtEos", true),
                UseCache = options.Bool("useCache", true),
            };
            var rowAdapters = options.Strings("adapterNames");
            if (rowAdapters is not null)
            {
                if (rowAdapters.Count != prompts.Count)
                    throw new RecipeApiException($"generate: adapterNames has {rowAdapters.Count} names for {prompts.Count} prompt(s); give one per prompt");
                var peft = model.RequirePeft("generate");
                var known = peft.Adapters.Select(a => a.Name).Append(IAdapterRouting.BaseModelName).ToList();
                foreach (var n in rowAdapters.Where(n => !known.Contains(n)))
                    throw new RecipeApiException($"generate: adapterNames: no adapter '{n}'" +
                        (KeyNames.DidYouMean(n, known) is { } hint ? $"; did you mean '{hint}'?" : "") + $" (adapters: {string.Join(", ", known)})");
            }
            TextTokenizer? given = options.Has("tokenizer")
                ? s.Handles.Expect<TextTokenizer>(options.Raw("tokenizer"), "generate", "option 'tokenizer'", "a tokenizer from loadTokenizer")
                : null;
            bool? addBos = options.Has("addBos") ? options.Bool("addBos", true) : null;
            bool fullText = options.Bool("returnFullText", false);

            var texts = s.Job("generate", job =>
            {
                var tokenizer = given ?? model.Tokenizer("generate");
                var ids = prompts.Select(p => tokenizer.Encode(p, addBos)).ToList();
                if (ids.Any(i => i.Count == 0))
                    throw new RecipeApiException("generate: an empty prompt needs a BOS token; this tokenizer adds none (pass addBos: true or a non-empty prompt)");
                bool wasTraining = model.Model.training;
                model.Model.eval();
                try
                {
                    using var routing = rowAdapters is null ? null : model.RequirePeft("generate").UseRowAdapters(rowAdapters);
                    var progress = new GenerationProgress(s.Host.Events, prompts.Count, settings.MaxNewTokens);
                    var rows = new TextGenerator(model.Model).Generate(ids, settings, progress.OnToken, job.Cancellation);
                    progress.Finish();
                    return rows.Select((r, i) => (fullText ? prompts[i] : "") + IncrementalDetokenizer.Continuation(tokenizer, ids[i], r)).ToArray();
                }
                finally
                {
                    if (wasTraining) model.Model.train();
                }
            });
            return batch ? JsConvert.ToJs(s.Engine, texts) : new JsString(texts[0]);
        }));
    }
}
