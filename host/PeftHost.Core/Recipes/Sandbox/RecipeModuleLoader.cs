using Acornima;
using Jint;
using Jint.Runtime.Modules;

namespace PeftHost.Core.Recipes.Sandbox;

/// <summary>
/// Resolves and loads a recipe's modules: the built-in <c>"peft"</c> module, and relative imports
/// (<c>./x.js</c>, <c>../lib/y.js</c>) of files under the recipe's folder, checked as the file
/// system resolves them (no <c>..</c> or symbolic link out of that folder). Any other bare name
/// is refused: recipes cannot load packages or host modules.
/// </summary>
public sealed class RecipeModuleLoader : IModuleLoader
{
    /// <summary>The specifier of the built-in API module.</summary>
    public const string ApiModule = "peft";

    private readonly string _rootReal;

    /// <summary>Creates a loader confined to <paramref name="recipeFolder"/>.</summary>
    public RecipeModuleLoader(string recipeFolder)
    {
        RecipeFolder = Path.GetFullPath(recipeFolder);
        _rootReal = RealPath.Resolve(RecipeFolder);
    }

    /// <summary>The script modules loaded so far (real paths), in load order.</summary>
    public IReadOnlyList<string> Loaded => _loaded;

    private readonly List<string> _loaded = [];

    /// <summary>The folder imports must stay in.</summary>
    public string RecipeFolder { get; }

    /// <summary>The first syntax error met while loading, with its position (Jint's own report of it is a wrapped message).</summary>
    public RecipeSyntaxError? SyntaxError { get; private set; }

    /// <summary>The first import refused or not found, with where the import statement is.</summary>
    public RecipeImportError? ImportError { get; private set; }

    /// <inheritdoc />
    public ResolvedSpecifier Resolve(string? referencingModuleLocation, ModuleRequest moduleRequest)
    {
        string specifier = moduleRequest.Specifier;
        if (specifier == ApiModule) return new ResolvedSpecifier(moduleRequest, ApiModule, null, SpecifierType.Bare);

        string from = referencingModuleLocation is { Length: > 0 } r && Path.IsPathFullyQualified(r) ? r : Path.Combine(RecipeFolder, "(recipe)");
        bool relative = specifier.StartsWith("./", StringComparison.Ordinal) || specifier.StartsWith("../", StringComparison.Ordinal);
        if (!relative && !(referencingModuleLocation is null or "" && Path.IsPathFullyQualified(specifier)))
            throw Refuse(referencingModuleLocation, specifier, $"cannot import '{specifier}': recipes import \"{ApiModule}\" and relative paths (./x.js) under the recipe's folder only");

        string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(from)!, specifier));
        string real = RealPath.Resolve(full);
        if (!RealPath.IsUnder(real, _rootReal))
            throw Refuse(referencingModuleLocation, specifier, real == full || !RealPath.IsUnder(full, _rootReal)
                ? $"cannot import '{specifier}': it is outside the recipe's folder ({RecipeFolder})"
                : $"cannot import '{specifier}': it is a symbolic link to {real}, outside the recipe's folder");
        if (!File.Exists(real)) throw Refuse(referencingModuleLocation, specifier, $"cannot import '{specifier}': no such file {Display(full)}");
        return new ResolvedSpecifier(moduleRequest, real, new Uri(real), SpecifierType.RelativeOrAbsolute);
    }

    /// <inheritdoc />
    public Jint.Runtime.Modules.Module LoadModule(Engine engine, ResolvedSpecifier resolved)
    {
        if (resolved.Type == SpecifierType.Bare) throw new SandboxViolationException($"cannot import '{resolved.ModuleRequest.Specifier}'");
        var request = resolved.ModuleRequest;
        if (request.IsBytesModule()) return ModuleFactory.BuildBytesModule(engine, resolved, File.ReadAllBytes(resolved.Key));
        if (new FileInfo(resolved.Key).Length > SyntaxDepth.MaxModuleChars * 4L) throw TooLarge(resolved.Key); // more than 4 UTF-8 bytes a character cannot be
        string code = File.ReadAllText(resolved.Key);
        if (code.Length > SyntaxDepth.MaxModuleChars) throw TooLarge(resolved.Key);
        _loaded.Add(resolved.Key);
        if (request.IsJsonModule()) return ModuleFactory.BuildJsonModule(engine, resolved, code);
        if (request.IsTextModule()) return ModuleFactory.BuildTextModule(engine, resolved, code);
        Prepared<Acornima.Ast.Module> prepared;
        try { prepared = Engine.PrepareModule(code, resolved.Key); }
        catch (Exception e) when ((e as ParseErrorException ?? e.InnerException as ParseErrorException) is { } parse)
        {
            SyntaxError ??= new RecipeSyntaxError(resolved.Key, parse.LineNumber, parse.Column + 1, parse.Description);
            throw;
        }
        catch (ScriptPreparationException e)
        {
            // Jint's own bounds on what it prepares (nesting, stack): the module, not the recipe's run, is at fault.
            SyntaxError ??= new RecipeSyntaxError(resolved.Key, 1, 1, e.Message);
            throw;
        }
        if (SyntaxDepth.FindTooDeep(prepared.Program!) is { } deep)
        {
            var at = deep.Location.Start;
            SyntaxError ??= new RecipeSyntaxError(resolved.Key, at.Line, at.Column + 1,
                $"the code nests more than {SyntaxDepth.MaxDepth:N0} levels deep here (one expression or statement too long or too deeply nested; a sandbox limit)");
            throw new SandboxViolationException(SyntaxError.Description);
        }
        return ModuleFactory.BuildSourceTextModule(engine, prepared);
    }

    private SandboxViolationException TooLarge(string module)
    {
        SyntaxError ??= new RecipeSyntaxError(module, 1, 1, $"the module is larger than {SyntaxDepth.MaxModuleChars:N0} characters (a sandbox limit)");
        return new SandboxViolationException(SyntaxError.Description);
    }

    private SandboxViolationException Refuse(string? from, string specifier, string message)
    {
        ImportError ??= RecipeImportError.Locate(from, specifier, message);
        return new SandboxViolationException(message);
    }

    private string Display(string path) => Path.GetRelativePath(RecipeFolder, path);
}

/// <summary>A syntax error in a recipe module.</summary>
/// <param name="File">The module's path.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Description">What the parser expected or found.</param>
public sealed record RecipeSyntaxError(string File, int Line, int Column, string Description);

/// <summary>An import a recipe may not make (or of a file that is not there), with the position of the import in its module.</summary>
/// <param name="File">The importing module, when known.</param>
/// <param name="Line">1-based line of the specifier, when found.</param>
/// <param name="Column">1-based column of the specifier, when found.</param>
/// <param name="Message">Why it is refused.</param>
public sealed record RecipeImportError(string? File, int? Line, int? Column, string Message)
{
    /// <summary>Finds the quoted <paramref name="specifier"/> in <paramref name="module"/>'s text (Jint does not report where a failed import is).</summary>
    public static RecipeImportError Locate(string? module, string specifier, string message)
    {
        if (module is null || !Path.IsPathFullyQualified(module) || !System.IO.File.Exists(module)) return new(module is { Length: > 0 } ? module : null, null, null, message);
        var lines = System.IO.File.ReadAllLines(module);
        for (int i = 0; i < lines.Length; i++)
        {
            foreach (char quote in "\"'`")
            {
                int at = lines[i].IndexOf(quote + specifier + quote, StringComparison.Ordinal);
                if (at >= 0) return new(module, i + 1, at + 1, message);
            }
        }
        return new(module, null, null, message);
    }
}
