namespace PeftHost.Core.Recipes.Interop;

/// <summary>The JavaScript type an option accepts.</summary>
public enum OptionKind
{
    /// <summary>Any finite number.</summary>
    Number,

    /// <summary>A whole number.</summary>
    Integer,

    /// <summary>true or false.</summary>
    Boolean,

    /// <summary>A string.</summary>
    String,

    /// <summary>A function (a callback).</summary>
    Function,

    /// <summary>An array of strings.</summary>
    StringArray,

    /// <summary>A string or an array of strings.</summary>
    StringOrStringArray,

    /// <summary>An array of numbers.</summary>
    NumberArray,

    /// <summary>A handle returned by the API (a dataset, a tokenizer…).</summary>
    Handle,

    /// <summary>A plain object (nested options).</summary>
    Object,
    /// <summary>An array of plain objects (e.g. tool schemas).</summary>
    ObjectArray,
}
