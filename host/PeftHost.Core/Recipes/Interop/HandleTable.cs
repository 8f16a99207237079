using System.Runtime.CompilerServices;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime.Descriptors;

namespace PeftHost.Core.Recipes.Interop;

/// <summary>
/// Opaque handles: the JS objects the API returns for models, tokenizers and datasets. A handle is
/// a plain, non-extensible JS object with a few read-only descriptive properties; the host object
/// behind it is kept in a weak table the script cannot reach, so no CLR member is ever exposed.
/// Host objects that own native memory are disposed when the run ends.
/// </summary>
public sealed class HandleTable : IDisposable
{
    private readonly ConditionalWeakTable<ObjectInstance, object> _targets = new();
    private readonly List<IDisposable> _owned = [];
    private readonly Engine _engine;

    /// <summary>Creates the table for <paramref name="engine"/>.</summary>
    public HandleTable(Engine engine) => _engine = engine;

    /// <summary>
    /// A new handle of <paramref name="kind"/> for <paramref name="target"/>. <paramref name="describe"/>
    /// adds properties (with <see cref="HandleBuilder"/>) before the object is sealed.
    /// </summary>
    public JsObject Create(string kind, object target, Action<HandleBuilder>? describe = null)
    {
        var obj = new JsObject(_engine);
        var builder = new HandleBuilder(_engine, obj);
        builder.Value("kind", kind);
        describe?.Invoke(builder);
        obj.PreventExtensions();
        _targets.Add(obj, target);
        return obj;
    }

    /// <summary>
    /// Ends <paramref name="handle"/>'s use: from now on every function given it fails naming it as <paramref name="what"/>
    /// (e.g. the PEFT model that mergeAndUnload consumed), instead of acting on what it used to stand for.
    /// </summary>
    public void Retire(JsValue handle, string what)
    {
        if (handle is ObjectInstance obj) _targets.AddOrUpdate(obj, new RetiredHandle(what));
    }

    /// <summary>Stands behind a handle that may no longer be used.</summary>
    private sealed record RetiredHandle(string What);

    /// <summary>Disposes <paramref name="resource"/> when the run ends (unless disposed earlier).</summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    /// <summary>The host object behind <paramref name="value"/> if it is a handle of type <typeparamref name="T"/>.</summary>
    public bool TryGet<T>(JsValue value, out T target) where T : class
    {
        if (value is ObjectInstance obj && _targets.TryGetValue(obj, out var t) && t is T typed)
        {
            target = typed;
            return true;
        }
        target = null!;
        return false;
    }

    /// <summary>
    /// The host object behind argument <paramref name="value"/>, or an error naming the caller,
    /// the parameter and what was expected (e.g. "a model from loadModel").
    /// </summary>
    public T Expect<T>(JsValue value, string caller, string parameter, string expected) where T : class
    {
        if (TryGet<T>(value, out var target)) return target;
        if (value is ObjectInstance retired && _targets.TryGetValue(retired, out var t) && t is RetiredHandle r)
            throw new RecipeApiException($"{caller}: {parameter} is {r.What}");
        string got = value is ObjectInstance o && _targets.TryGetValue(o, out _) ? $"a {KindOf(o)}" : JsDescribe.Value(value);
        throw new RecipeApiException($"{caller}: {parameter} must be {expected}, got {got}");
    }

    /// <summary>Disposes what the run's handles own, newest first.</summary>
    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try { _owned[i].Dispose(); }
            catch (ObjectDisposedException) { }
        }
        _owned.Clear();
    }

    private static string KindOf(ObjectInstance o) => o.GetOwnProperty("kind").Value is { } k && k.IsString() ? k.AsString() : "host";
}

/// <summary>Adds read-only properties and methods to a handle being created.</summary>
public sealed class HandleBuilder
{
    private readonly Engine _engine;
    private readonly JsObject _obj;

    internal HandleBuilder(Engine engine, JsObject obj)
    {
        _engine = engine;
        _obj = obj;
    }

    /// <summary>A read-only, enumerable data property (plain data, see <see cref="JsConvert.ToJs"/>).</summary>
    public HandleBuilder Value(string name, object? value)
    {
        _obj.DefineOwnProperty(name, new PropertyDescriptor(JsConvert.ToJs(_engine, value), PropertyFlag.OnlyEnumerable));
        return this;
    }

    /// <summary>A read-only property computed on each read (e.g. the active adapter).</summary>
    public HandleBuilder Getter(string name, JsValue getter)
    {
        _obj.DefineOwnProperty(name, new GetSetPropertyDescriptor(getter, JsValue.Undefined, enumerable: true, configurable: false));
        return this;
    }

    /// <summary>A method (a host function made with <see cref="HostFunctions"/>).</summary>
    public HandleBuilder Method(string name, JsValue function)
    {
        _obj.DefineOwnProperty(name, new PropertyDescriptor(function, PropertyFlag.None));
        return this;
    }
}
