using Jint.Native;
using PeftHost.Core.Recipes.Interop;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// The <c>"peft"</c> module: every function and value a recipe can import, and the option schemas
/// they validate against (docs/RECIPES.md documents each; a test keeps the two in step).
/// </summary>
public static class RecipeApi
{
    /// <summary>Every option schema, for documentation checks.</summary>
    public static IReadOnlyList<OptionSchema> OptionSchemas { get; } =
    [
        ModelApi.LoadModelOptions, ModelApi.QuantizeOptions, ModelApi.KbitOptions, ModelApi.SaveModelOptions,
        AdapterApi.SaveAdapterOptions, AdapterApi.LoadAdapterOptions, AdapterApi.WeightedAdapterOptions,
        GenerationApi.GenerateOptions, ChatApi.ApplyChatTemplateOptions, ChatApi.ChatOptions, ReportingApi.TableOptions, ReportingApi.PlotOptions,
        ModelHandles.TokenizerEncodeOptions, ModelHandles.TokenizerDecodeOptions,
        .. TrainingApi.Schemas,
        ExportApi.ExportGgufOptions,
    ];

    /// <summary>The events <c>on(event, fn)</c> accepts.</summary>
    public static IReadOnlyCollection<string> EventNames => RecipeEvents.Names.Keys.ToArray();

    /// <summary>Builds the exports for one run.</summary>
    internal static IReadOnlyList<KeyValuePair<string, JsValue>> Build(RecipeSession session)
    {
        var api = new ApiRegistry();
        ModelApi.Register(session, api);
        AdapterApi.Register(session, api);
        GenerationApi.Register(session, api);
        ChatApi.Register(session, api);
        TrainingApi.Register(session, api);
        EventsApi.Register(session, api);
        ParamsApi.Register(session, api);
        SeedApi.Register(session, api);
        ReportingApi.Register(session, api);
        ExportApi.Register(session, api);
        api.Add("outputDir", new JsString(session.Paths.OutputFolder));
        return api.Exports;
    }
}
