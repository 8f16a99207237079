using Jint;
using Jint.Native;
using Jint.Runtime.Interop;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Sandbox;
using PeftHost.Core.Recipes.Threading;
using PeftHost.Core.Telemetry;

namespace PeftHost.Core.Recipes.Api;

/// <summary>Everything one recipe run's API functions share: the engine, the sandbox, the job thread, the handles.</summary>
internal sealed class RecipeSession(
    Engine engine, PathPolicy paths, JobDispatcher jobs, RecipeHostContext host, RecipeParameters parameters,
    string recipeName, RecipeLimits limits, CancellationToken cancellation) : IDisposable
{
    /// <summary>The source name of the recipe's own output (<c>log</c>, <c>table</c>, <c>console.log</c>): the run's results.</summary>
    public const string EventSource = "recipe";

    /// <summary>The source name of the API's notices about what it did (loaded, saved, trained): not results.</summary>
    public const string NoticeSource = "peft";

    /// <summary>The engine (script thread only).</summary>
    public Engine Engine { get; } = engine;

    /// <summary>Where the recipe may read and write.</summary>
    public PathPolicy Paths { get; } = paths;

    /// <summary>Runs long steps on the job thread.</summary>
    public JobDispatcher Jobs { get; } = jobs;

    /// <summary>The folder each tokenizer from <c>loadTokenizer</c> came from (where its chat template lives).</summary>
    public System.Runtime.CompilerServices.ConditionalWeakTable<Tokenization.TextTokenizer, string> TokenizerFolders { get; } = new();

    /// <summary>The opaque handles and what they own.</summary>
    public HandleTable Handles { get; } = new(engine);

    /// <summary>What the host lends the run.</summary>
    public RecipeHostContext Host { get; } = host;

    /// <summary>The <c>--set</c> values.</summary>
    public RecipeParameters Parameters { get; } = parameters;

    /// <summary>The run's budgets (<c>--max-memory</c> also bounds what host steps such as <c>loadDataset</c> keep in memory).</summary>
    public RecipeLimits Limits { get; } = limits;

    /// <summary>The recipe's file name without extension.</summary>
    public string RecipeName { get; } = recipeName;

    /// <summary>The host's cancellation (Ctrl-C).</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>Subscriptions made with <c>on(event, fn)</c>.</summary>
    public RecipeEvents Handlers { get; } = new();

    /// <summary>The run continues an interrupted one: <c>train</c> resumes from its latest checkpoint unless told otherwise.</summary>
    public bool ResumesTraining { get; init; }

    /// <summary>True once the recipe called <c>defineParams</c>.</summary>
    public bool ParamsDeclared { get; set; }

    /// <summary>How many times <c>train</c> has been called (numbers the run ids).</summary>
    public int TrainingRuns { get; set; }

    /// <summary>Default output names (train folders, plot files), numbered among the calls that take them.</summary>
    public DefaultNames DefaultNames { get; } = new();

    /// <summary>Publishes a line of recipe output.</summary>
    public void Log(string text, LogLevel level = LogLevel.Info) => Host.Events.Log(level, EventSource, text);

    /// <summary>Publishes a notice of what an API call did (shown as <c>[peft] …</c> on stderr by <c>peft run</c>).</summary>
    public void Notice(string text) => Host.Events.Log(LogLevel.Info, NoticeSource, text);

    /// <summary>A host function bound to this run (errors become JS errors at the call).</summary>
    public ClrFunction Function(string name, int length, Func<JsValue[], JsValue> body) =>
        HostFunctions.Create(Engine, name, length, body, Cancellation);

    /// <summary>Runs <paramref name="work"/> on the job thread (see <see cref="JobDispatcher"/>).</summary>
    public T Job<T>(string name, Func<JobContext, T> work) => Jobs.Run(name, Cancellation, work);

    /// <summary>Disposes the models and other resources the run created.</summary>
    public void Dispose() => Handles.Dispose();
}
