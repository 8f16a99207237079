using PeftHost.Cli.Commands;
using PeftHost.Tests.Support;

namespace PeftHost.Tests.Recipes;

/// <summary>Recipes are untrusted: no CLR access, files only under the allowed folders, imports only from the recipe's folder.</summary>
public sealed class SandboxTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void There_is_no_CLR_access_and_no_string_compilation()
    {
        var run = _h.Run("clr.js", """
            import { log } from "peft";
            const globals = ["System", "importNamespace", "clrType", "require", "process", "host", "Host", "clr"];
            log("types:", globals.map((g) => `${g}=${typeof globalThis[g]}`).join(" "));
            let evalError = "";
            try { eval("1 + 1"); } catch (e) { evalError = e.message; }
            let fnError = "";
            try { new Function("return 1")(); } catch (e) { fnError = e.message; }
            log("eval:", evalError === "" ? "ran" : "refused");
            log("Function:", fnError === "" ? "ran" : "refused");
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("types: System=undefined importNamespace=undefined clrType=undefined require=undefined process=undefined host=undefined Host=undefined clr=undefined", run.Out);
        Assert.Contains("eval: refused", run.Out);
        Assert.Contains("Function: refused", run.Out);
    }

    [Fact]
    public void Handles_are_opaque_plain_objects()
    {
        var run = _h.Run("handles.js", """
            import { loadModel, loadTokenizer, log } from "peft";
            const model = loadModel("models/stories260k", { device: "meta" });
            const tok = loadTokenizer("models/stories260k");
            log("model keys:", Object.keys(model).join(","));
            log("tokenizer keys:", Object.keys(tok).join(","));
            log("proto:", Object.getPrototypeOf(model) === Object.prototype);
            log("GetType:", typeof model.GetType, typeof model.Model, typeof model.Dispose, typeof tok.Inner);
            log("ctor:", model.constructor === Object);
            "use strict";
            let frozen = false;
            try { model.kind = "x"; model.extra = 1; } catch (e) { frozen = true; }
            log("kind:", model.kind, "extra:", String(model.extra), "frozen:", frozen);
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("model keys: kind,name,dtype,device,parameters,config", run.Out);
        Assert.Contains("tokenizer keys: kind,type,vocabSize,bosTokenId,eosTokenIds", run.Out);
        Assert.Contains("proto: true", run.Out);
        Assert.Contains("GetType: undefined undefined undefined undefined", run.Out);
        Assert.Contains("ctor: true", run.Out);
        Assert.Contains("kind: model extra: undefined frozen: true", run.Out);
    }

    [Theory]
    [InlineData("../../../../etc", "climbs out of the folders a recipe may read")]
    [InlineData("models/../../../etc/passwd", "climbs out of the folders a recipe may read")]
    [InlineData("/etc", "is outside the folders a recipe may read")]
    [InlineData("host", "is outside the folders a recipe may read")]
    public void Reading_outside_the_allowed_folders_is_refused(string path, string message)
    {
        var run = _h.Run("escape.js", $$"""
            import { loadModel } from "peft";
            const model = loadModel("{{path}}");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "escape.js", 2, 15, message);
    }

    [Fact]
    public void A_symbolic_link_out_of_the_recipe_folder_is_refused()
    {
        Directory.CreateSymbolicLink(Path.Combine(_h.Folder, "sneaky"), "/etc");
        var run = _h.Run("link.js", """
            import { loadTokenizer } from "peft";

            loadTokenizer("./sneaky");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "link.js", 3, 1, "goes through a symbolic link to /etc, outside the folders a recipe may read");
    }

    [Fact]
    public void A_symbolic_link_planted_inside_a_model_folder_is_refused()
    {
        string model = Path.Combine(_h.Folder, "model");
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(TestPaths.Stories260k)) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        File.Delete(Path.Combine(model, "tokenizer.model"));
        File.CreateSymbolicLink(Path.Combine(model, "tokenizer.model"), "/etc/hostname");
        var run = _h.Run("planted.js", """
            import { loadTokenizer } from "peft";
            loadTokenizer("./model");
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "planted.js", 2, 1, "'tokenizer.model' in './model' is a symbolic link to /etc/hostname");
    }

    [Fact]
    public void Writing_outside_the_output_folder_is_refused()
    {
        var run = _h.Run("write.js", """
            import { plot } from "peft";
            plot([1, 2, 3], { file: "ok.png" });
            plot([1, 2, 3], { file: "../escaped.png" });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "write.js", 3, 1, "plot: '../escaped.png' climbs out of the folders a recipe may write (the output folder)");
        Assert.True(File.Exists(Path.Combine(_h.Output, "ok.png")));
        Assert.False(File.Exists(Path.Combine(_h.Folder, "escaped.png")));
    }

    [Fact]
    public void Writing_to_an_absolute_path_outside_the_output_folder_is_refused()
    {
        string target = Path.Combine(_h.Folder, "elsewhere.png");
        var run = _h.Run("abs.js", $$"""
            import { plot } from "peft";
            plot([1, 2], { file: "{{target}}" });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "abs.js", 2, 1, "is outside the folders a recipe may write");
        Assert.False(File.Exists(target));
    }

    [Theory]
    [InlineData("fs", "cannot import 'fs'")]
    [InlineData("../outside.js", "cannot import '../outside.js': it is outside the recipe's folder")]
    [InlineData("/etc/passwd", "cannot import '/etc/passwd'")]
    [InlineData("./missing.js", "cannot import './missing.js': no such file")]
    public void Imports_are_confined_to_the_peft_module_and_the_recipe_folder(string specifier, string message)
    {
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(_h.Folder)!, "outside.js"), "export const x = 1;");
        var run = _h.Run("imports.js", $$"""
            import { log } from "peft";
            import { x } from "{{specifier}}";
            log(x);
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "imports.js", 2, 19, message);
    }

    [Fact]
    public void An_import_through_a_symbolic_link_out_of_the_folder_is_refused()
    {
        string outside = Path.Combine(Path.GetTempPath(), "pefthost-tests", $"outside-{Guid.NewGuid():N}.js");
        File.WriteAllText(outside, "export const secret = 42;");
        try
        {
            File.CreateSymbolicLink(Path.Combine(_h.Folder, "link.js"), outside);
            var run = _h.Run("main.js", """
                import { secret } from "./link.js";
                """);
            RecipeAssert.FailsAt(run, PeftCli.Failure, "main.js", 1, 24, "is a symbolic link to");
        }
        finally { File.Delete(outside); }
    }

    [Fact]
    public void Relative_imports_under_the_recipe_folder_work_with_top_level_await()
    {
        _h.Write("lib/math.js", """
            export const square = (x) => x * x;
            export default function cube(x) { return x * x * x; }
            """);
        _h.Write("lib/config.json", """{ "answer": 42 }""");
        var run = _h.Run("main.js", """
            import cube, { square } from "./lib/math.js";
            import config from "./lib/config.json" with { type: "json" };
            import * as peft from "peft";
            const later = await Promise.resolve(square(3));
            peft.log(`square ${later} cube ${cube(2)} answer ${config.answer}`);
            export const done = true;
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("square 9 cube 8 answer 42", run.Out);
    }
}
