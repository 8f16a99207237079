using Jint;
using Jint.Native;
using Jint.Native.Object;
using PeftHost.Core.IO;
using PeftHost.Core.Recipes.Interop;
using PeftHost.Core.Recipes.Sandbox;

namespace PeftHost.Core.Recipes.Api;

/// <summary><c>log</c>, <c>table</c>, <c>plot</c>: what a recipe shows and draws.</summary>
internal static class ReportingApi
{
    /// <summary>Options of <c>table</c>.</summary>
    public static readonly OptionSchema TableOptions = new("table",
        new("title", OptionKind.String, "A line printed above the table."),
        new("columns", OptionKind.StringArray, "Which keys to show, in order (default: every key, in first-seen order)."),
        new("maxWidth", OptionKind.Integer, "Cut longer cells with … (default 80)."));

    /// <summary>Options of <c>plot</c>.</summary>
    public static readonly OptionSchema PlotOptions = new("plot",
        new("file", OptionKind.String, "The PNG to write, relative to the output folder (default \"plot.png\", then plot-2.png… among the calls that give no file)."),
        new("title", OptionKind.String, "The plot's title."),
        new("xLabel", OptionKind.String, "The x axis label (default \"step\")."),
        new("yLabel", OptionKind.String, "The y axis label."),
        new("width", OptionKind.Integer, "Width in pixels (default 900)."),
        new("height", OptionKind.Integer, "Height in pixels (default 520)."));

    /// <summary>Adds the functions.</summary>
    public static void Register(RecipeSession s, ApiRegistry api)
    {
        api.Add("log", s.Function("log", 1, values =>
        {
            s.Log(string.Join(" ", values.Select(v => Show(s, v))));
            return JsValue.Undefined;
        }));

        api.Add("table", s.Function("table", 2, values =>
        {
            var args = new ApiArguments("table", values).AtMost(2, "(rows, { title, columns, maxWidth })");
            if (!args[0].IsArray()) throw new RecipeApiException($"table: rows must be an array of objects (or of arrays), got {JsDescribe.Value(args[0])}");
            var options = TableOptions.Read(args[1]);
            int maxWidth = Math.Max(4, options.Int("maxWidth", 80));
            var rows = args[0].AsArray().ToArray();
            var columns = options.Strings("columns")?.ToList() ?? Columns(rows);
            var cells = rows.Select((row, r) => columns.Select(c => Cell(s, CellValue(row, c, r), maxWidth)).ToArray() as IReadOnlyList<TableFormatter.Cell>).ToList();
            string? title = options.String("title");
            s.Log(TableFormatter.Format(columns, cells, title));
            s.Host.Events.Publish(new RecipeTableEvent(title, columns, cells));
            return args[0];
        }));

        api.Add("plot", s.Function("plot", 2, values =>
        {
            var args = new ApiArguments("plot", values).AtMost(2, "(series, { file, title, xLabel, yLabel, width, height })");
            var series = Series(args[0]);
            var options = PlotOptions.Read(args[1]);
            string file = options.String("file") ?? s.DefaultNames.Next("plot", ".png");
            if (!file.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw new RecipeApiException($"plot: file must end in .png, got '{file}'");
            string path = s.Paths.Resolve(file, PathAccess.Write, "plot");
            string? title = options.String("title");
            string xLabel = options.String("xLabel", "step");
            string? yLabel = options.String("yLabel");
            int width = options.Int("width", 900), height = options.Int("height", 520);
            if (width is < 100 or > 8000 || height is < 100 or > 8000) throw new RecipeApiException("plot: width and height must be between 100 and 8000 pixels");
            s.Job("plot", _ =>
            {
                var plot = new ScottPlot.Plot();
                foreach (var (name, xs, ys) in series)
                {
                    var line = plot.Add.Scatter(xs, ys);
                    line.LegendText = name;
                    line.MarkerSize = xs.Length <= 50 ? 4 : 0;
                    line.LineWidth = 2;
                }
                if (title is not null) plot.Title(title);
                plot.XLabel(xLabel);
                if (yLabel is not null) plot.YLabel(yLabel);
                if (series.Count > 1 || series[0].Name.Length > 0) plot.ShowLegend();
                var png = plot.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
                AtomicFile.Write(path, stream => stream.Write(png));
                return 0;
            });
            s.Notice($"plot written to {path}");
            return new JsString(path);
        }));
    }

    /// <summary>How <c>log</c> shows a value: strings as they are, handles as [kind name], data as JSON.</summary>
    internal static string Show(RecipeSession s, JsValue v)
    {
        if (v.IsString()) return v.AsString();
        if (v.IsUndefined()) return "undefined";
        if (v is ObjectInstance o && s.Handles.TryGet<object>(o, out _))
            return $"[{o.Get("kind")}{(o.Get("name") is { } n && n.IsString() ? " " + n.AsString() : "")}]";
        if (v.IsCallable()) return "[function]";
        if (v.IsObject())
        {
            if (v.AsObject() is Jint.Native.Error.ErrorInstance error)
                return $"{error.Get("name")}: {error.Get("message")}";
            try
            {
                var json = s.Engine.Global.Get("JSON").Get("stringify").Call(JsValue.Undefined, [v]);
                return json.IsString() ? json.AsString() : v.ToString();
            }
            catch (Jint.Runtime.JavaScriptException) { return v.ToString(); }
        }
        return v.ToString();
    }

    private static List<string> Columns(JsValue[] rows)
    {
        var columns = new List<string>();
        foreach (var row in rows)
        {
            if (row.IsArray())
            {
                for (int i = columns.Count; i < row.AsArray().Length; i++) columns.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            else if (row.IsObject())
            {
                foreach (var key in row.AsObject().GetOwnPropertyKeys(Jint.Runtime.Types.String))
                    if (!columns.Contains(key.ToString())) columns.Add(key.ToString());
            }
        }
        return columns;
    }

    private static JsValue CellValue(JsValue row, string column, int index)
    {
        if (row.IsArray()) return int.TryParse(column, out int i) ? row.AsArray().Get(i) : JsValue.Undefined;
        if (row.IsObject()) return row.AsObject().Get(column);
        throw new RecipeApiException($"table: row {index} must be an object or an array, got {JsDescribe.Value(row)}");
    }

    private static TableFormatter.Cell Cell(RecipeSession s, JsValue v, int maxWidth)
    {
        if (v.IsNumber()) return new(TableFormatter.Number(v.AsNumber()), true);
        if (v.IsUndefined() || v.IsNull()) return new("", false);
        string text = Show(s, v).Replace("\r", "").Replace("\n", " ⏎ ").Replace("\t", " ");
        if (text.Length > maxWidth) text = text[..(maxWidth - 1)] + "…";
        return new(text, false);
    }

    /// <summary>
    /// The lines to draw: an array of numbers (y per step), or an object of named series, each an
    /// array of numbers or of [x, y] pairs.
    /// </summary>
    private static List<(string Name, double[] Xs, double[] Ys)> Series(JsValue value)
    {
        var result = new List<(string, double[], double[])>();
        if (value.IsArray()) result.Add(("", Xs(value, "series"), Ys(value, "series")));
        else if (value.IsObject() && !value.IsCallable())
        {
            var obj = value.AsObject();
            foreach (var key in obj.GetOwnPropertyKeys(Jint.Runtime.Types.String))
            {
                var v = obj.Get(key);
                if (!v.IsArray()) throw new RecipeApiException($"plot: series '{key}' must be an array of numbers or [x, y] pairs, got {JsDescribe.Value(v)}");
                result.Add((key.ToString(), Xs(v, $"series '{key}'"), Ys(v, $"series '{key}'")));
            }
        }
        else throw new RecipeApiException($"plot: series must be an array of numbers or an object of named arrays, got {JsDescribe.Value(value)}");
        if (result.Count == 0 || result.All(r => r.Item2.Length == 0)) throw new RecipeApiException("plot: there is nothing to draw (the series are empty)");
        return result;
    }

    private static double[] Xs(JsValue array, string what) =>
        array.AsArray().ToArray().Select((e, i) => e.IsArray() ? Number(e.AsArray().Get(0), what) : i).ToArray();

    private static double[] Ys(JsValue array, string what) =>
        array.AsArray().ToArray().Select(e => e.IsArray() ? Number(e.AsArray().Get(1), what) : Number(e, what)).ToArray();

    private static double Number(JsValue v, string what) => v.IsNumber() ? v.AsNumber()
        : v.IsNull() ? double.NaN
        : throw new RecipeApiException($"plot: {what} must hold numbers or [x, y] pairs, got {JsDescribe.Value(v)}");
}
