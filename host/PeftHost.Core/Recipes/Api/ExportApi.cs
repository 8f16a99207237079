using Jint.Native;
using PeftHost.Core.Export.Gguf;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Sandbox;

namespace PeftHost.Core.Recipes.Api;

/// <summary>
/// <c>exportGguf</c>: a model (with an Ollama Modelfile beside it), or a PEFT model's active LoRA adapter, as a
/// llama.cpp GGUF file. Returns <c>{ file, bytes, type, kind, modelfile }</c>.
/// </summary>
internal static class ExportApi
{
    /// <summary>Options of <c>exportGguf</c>.</summary>
    public static readonly OptionSchema ExportGgufOptions = new("exportGguf",
        new OptionSpec("type", OptionKind.String, "Tensor type of the matrices: \"f32\" (default), \"f16\", \"bf16\", \"q8_0\", \"q4_0\"; an adapter takes f32, f16 or bf16."));

    /// <summary>Adds the function.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("exportGguf", s.Function("exportGguf", 3, values =>
        {
            var args = new ApiArguments("exportGguf", values).AtMost(3, "(model, file, { type })");
            var model = ModelApi.ExpectModel(s, args[0], "exportGguf");
            string file = s.Paths.Resolve(args.String(1, "file"), PathAccess.Write, "exportGguf");
            string typeName = ExportGgufOptions.Read(args[2]).String("type", "f32");
            GgmlType type;
            try { type = GgmlTypes.Parse(typeName); }
            catch (ArgumentException e) { throw new RecipeApiException($"exportGguf: {e.Message}"); }
            string folder = model.Folder ?? throw new RecipeApiException("exportGguf: the model was not loaded from a folder, so it has no tokenizer to export");

            if (model.Peft is { Adapters.Count: > 0 } peft)
            {
                // A PEFT model exports its active adapter, unmerged: llama.cpp loads it beside the base GGUF.
                string name = peft.ActiveAdapter ?? throw new RecipeApiException("exportGguf: the PEFT model has no active adapter");
                var entry = peft[name];
                s.Job("exportGguf", _ =>
                {
                    // The config as saveAdapter writes it: the method's keys plus its PEFT type.
                    var config = entry.Adapter.Config.ToJson();
                    config["peft_type"] = entry.Method.PeftType;
                    return GgufLoraExporter.Export(config, entry.Adapter.GetState(), $"adapter '{name}'", name, peft.Base, file, type);
                });
                return Result(s, file, type, "adapter", modelfile: null);
            }
            string modelfile = s.Job("exportGguf", _ =>
            {
                GgufModelExporter.Export(model.Model, folder, file, type, model.Name);
                return OllamaModelfile.Write(file, folder);
            });
            return Result(s, file, type, "model", modelfile);
        }));
    }

    private static JsValue Result(RecipeSession s, string file, GgmlType type, string kind, string? modelfile)
    {
        long bytes = new FileInfo(file).Length;
        s.Notice($"exported {kind} GGUF {file} ({GgmlTypes.Name(type)}, {bytes:N0} bytes)" + (modelfile is null ? "" : $" and {Path.GetFileName(modelfile)}"));
        return JsConvert.Object(s.Engine, [new("file", file), new("bytes", bytes), new("type", GgmlTypes.Name(type)), new("kind", kind), new("modelfile", modelfile)]);
    }
}
