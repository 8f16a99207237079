using PeftHost.Cli.Commands;

namespace PeftHost.Tests.Recipes;

/// <summary>Every way a recipe can fail surfaces as <c>recipe.js:LINE:COL: message</c> (plus the JS stack) with the right exit code.</summary>
public sealed class RecipeErrorTests : IDisposable
{
    private readonly RecipeHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void A_syntax_error_names_its_line_and_column()
    {
        var run = _h.Run("broken.js", """
            import { log } from "peft";
            log("never runs");
            let x = ;
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "broken.js", 3, 9, "SyntaxError: Unexpected token ';'");
        Assert.DoesNotContain("never runs", run.Out);
    }

    [Fact]
    public void A_syntax_error_in_an_imported_module_names_that_module()
    {
        _h.Write("lib/helpers.js", """
            export function twice(x) {
              return x * ;
            }
            """);
        var run = _h.Run("main.js", """
            import { twice } from "./lib/helpers.js";
            twice(2);
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "helpers.js", 2, 14, "SyntaxError");
    }

    [Fact]
    public void A_throw_in_a_nested_function_names_the_throw_and_prints_the_stack()
    {
        var run = _h.Run("nested.js", """
            import { log } from "peft";
            function check(n) {
              if (n > 2) {
                throw new RangeError(`n is too big: ${n}`);
              }
              return n;
            }
            function step(n) {
              const checked = check(n + 1);
              return checked;
            }
            log("start");
            step(5);
            """);
        string err = RecipeAssert.FailsAt(run, PeftCli.Failure, "nested.js", 4, 11, "RangeError: n is too big: 6");
        Assert.Contains("start", run.Out);
        Assert.Contains("at check (", err);
        Assert.Contains("nested.js:9:", err);   // step's call of check
        Assert.Contains("nested.js:13:1", err); // the module's call of step
    }

    [Fact]
    public void A_runtime_type_error_in_an_imported_module_is_reported_there()
    {
        _h.Write("lib/deep.js", """
            export function down(n) {
              if (n === 0) {
                return null.field;
              }
              return 1 + down(n - 1);
            }
            """);
        var run = _h.Run("main.js", """
            import { down } from "./lib/deep.js";
            down(3);
            """);
        string err = RecipeAssert.FailsAt(run, PeftCli.Failure, "deep.js", 3, null, "TypeError");
        Assert.Contains("main.js:2:1", err);
    }

    [Fact]
    public void A_thrown_non_error_value_still_has_a_location()
    {
        var run = _h.Run("str.js", """
            function fail() { throw "plain string"; }
            fail();
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "str.js", 1, null, "uncaught \"plain string\"");
    }

    [Fact]
    public void An_unknown_option_is_an_error_at_the_call_with_a_did_you_mean()
    {
        var run = _h.Run("options.js", """
            import { loadModel, generate } from "peft";
            const model = loadModel("models/stories260k");
            const out = generate(model, "Once upon a time", {
              maxNewTokns: 4,
            });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "options.js", 3, 13,
            "TypeError: generate: unknown option 'maxNewTokns'; did you mean 'maxNewTokens'?");
    }

    [Fact]
    public void An_option_of_the_wrong_type_names_the_option_and_what_it_got()
    {
        var run = _h.Run("types.js", """
            import { loadModel } from "peft";
            loadModel("models/stories260k", { dtype: 16 });
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "types.js", 2, 1, "loadModel: option 'dtype' must be a string, got number 16");
    }

    [Fact]
    public void Host_errors_can_be_caught_by_the_recipe()
    {
        var run = _h.Run("catch.js", """
            import { loadModel, log } from "peft";
            try {
              loadModel("models/no-such-model");
            } catch (e) {
              log(`caught ${e.name}: ${e.message}`);
            }
            """);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("caught Error: loadModel: ", run.Out);
        Assert.Contains("no-such-model", run.Out);
    }

    [Fact]
    public void An_infinite_loop_stops_at_the_statement_limit_and_cannot_be_caught()
    {
        var run = _h.Run("spin.js", """
            import { log } from "peft";
            log("spinning");
            try {
              for (let i = 0; ; i++) { }
            } catch (e) {
              log("caught the limit");
            }
            """, "--max-statements", "100000");
        RecipeAssert.FailsAt(run, PeftCli.Failure, "spin.js", 4, null, "statement limit reached");
        Assert.DoesNotContain("caught the limit", run.Out);
    }

    [Fact]
    public void An_infinite_loop_stops_at_the_time_limit()
    {
        var run = _h.Run("slow.js", """
            let n = 0;
            function forever() {
              while (true) { n++; }
            }
            forever();
            """, "--timeout", "0.5");
        string err = RecipeAssert.FailsAt(run, PeftCli.Failure, "slow.js", 3, null, "time limit reached");
        Assert.Contains("at forever (", err);
    }

    [Fact]
    public void Endless_recursion_stops_at_the_recursion_limit()
    {
        var run = _h.Run("recurse.js", """
            const depth = (n) => 1 + depth(n + 1);
            depth(0);
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "recurse.js", 1, null, "recursion limit reached: 'depth'");
    }

    [Fact]
    public void A_memory_bomb_stops_at_the_memory_limit()
    {
        var run = _h.Run("bomb.js", """
            const hoard = [];
            while (true) {
              hoard.push(new Array(50000).fill(3.14));
            }
            """, "--max-memory", "64", "--max-statements", "1000000000");
        RecipeAssert.FailsAt(run, PeftCli.Failure, "bomb.js", 3, null, "memory limit reached");
    }

    [Fact]
    public void One_huge_array_is_refused_before_it_is_allocated()
    {
        var run = _h.Run("huge.js", """
            const big = new Array(2 ** 30).fill(0);
            """, "--max-memory", "64");
        // Jint raises this one inside the allocation, without a position: the file is named, not the line.
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains("huge.js: memory limit reached: an array of 1,073,741,824 elements is more than the 1,048,576 one array may hold", run.Err);
    }

    [Fact]
    public void Cancelling_a_script_loop_stops_it_between_statements_with_exit_130()
    {
        var run = _h.RunCancelledAt("cancel.js", """
            import { log } from "peft";
            log("ready");
            let n = 0;
            while (true) { n++; }
            """, "ready");
        RecipeAssert.FailsAt(run, RunCommand.Cancelled, "cancel.js", 4, null, "cancelled");
        Assert.Contains("cancelled: outputs so far in", run.Err);
    }

    [Fact]
    public void Cancelling_during_a_long_host_step_stops_the_step_with_exit_130()
    {
        var run = _h.RunCancelledAt("cancel-generate.js", """
            import { loadModel, generate, log } from "peft";
            const model = loadModel("models/stories260k");
            log("ready");
            const prompts = Array.from({ length: 8 }, () => "Once upon a time");
            for (let i = 0; i < 1000; i++) {
              generate(model, prompts, { maxNewTokens: 200, stopAtEos: false });
            }
            log("finished");
            """, "ready");
        RecipeAssert.FailsAt(run, RunCommand.Cancelled, "cancel-generate.js", 6, null, "cancelled");
        Assert.DoesNotContain("finished", run.Out);
    }

    [Fact]
    public void A_top_level_await_that_never_settles_is_an_error_not_a_hang()
    {
        var run = _h.Run("pending.js", """
            await new Promise(() => {});
            """);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains("pending.js: the module's top-level await never finished", run.Err);
    }

    [Fact]
    public void A_rejected_top_level_await_is_reported_at_the_throw()
    {
        var run = _h.Run("async.js", """
            async function later() {
              await null;
              throw new Error("async boom");
            }
            await later();
            """);
        RecipeAssert.FailsAt(run, PeftCli.Failure, "async.js", 3, null, "Error: async boom");
    }

    [Fact]
    public void Run_has_help_and_a_malformed_command_line_exits_2()
    {
        var help = new StringWriter();
        Assert.Equal(0, PeftCli.Run(["run", "--help"], help, new StringWriter()));
        Assert.Contains("--set", help.ToString());
        Assert.Contains("--max-statements", help.ToString());
        var usage = new StringWriter();
        Assert.Equal(PeftCli.UsageError, PeftCli.Run(["run"], new StringWriter(), usage));
    }

    [Fact]
    public void A_set_without_a_value_is_an_error()
    {
        var run = _h.Run("x.js", "export const a = 1;", "--set", "novalue");
        Assert.Equal(PeftCli.UsageError, run.Code);
        Assert.Contains("--set expects key=value, got 'novalue'", run.Err);
    }

    [Fact]
    public void A_missing_recipe_fails_before_running()
    {
        var run = RecipeHarness.RunFile(Path.Combine(_h.Folder, "nope.js"), _h.Output);
        Assert.Equal(PeftCli.Failure, run.Code);
        Assert.Contains("recipe not found", run.Err);
    }
}
