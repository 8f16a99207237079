using System.Diagnostics;

namespace PeftHost.Tests.Dashboard.EndToEnd;

/// <summary>
/// A tmux session on a private server socket (so a developer's own tmux is never touched): start a
/// command in a detached pane of a fixed size, send keys, capture the screen, wait for text.
/// </summary>
internal sealed class Tmux : IDisposable
{
    private static readonly Lazy<string?> Missing = new(FindOrInstall);
    private readonly string _socket = "pefthost-tests-" + Guid.NewGuid().ToString("N")[..8];

    private Tmux(string session, int width, int height)
    {
        Session = session;
        Width = width;
        Height = height;
    }

    /// <summary>Why tmux cannot be used here (it is not installed and could not be installed), or null when it can.</summary>
    public static string? Unavailable => Missing.Value;

    public string Session { get; }
    public int Width { get; }
    public int Height { get; }

    /// <summary>Starts <paramref name="command"/> (run by the shell, in <paramref name="workingDirectory"/>) in a new detached session of <paramref name="width"/>×<paramref name="height"/>.</summary>
    public static Tmux Start(string command, int width, int height, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var tmux = new Tmux("dash", width, height);
        var args = new List<string> { "new-session", "-d", "-s", tmux.Session, "-x", width.ToString(), "-y", height.ToString(), "-c", workingDirectory };
        string env = string.Concat((environment ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}='{kv.Value}' "));
        // The pane outlives the command and shows its exit status: "[exited N]".
        args.Add($"{(env.Length == 0 ? "" : "env " + env)}{command}; echo \"[exited $?]\"; sleep 600");
        tmux.Run(args);
        return tmux;
    }

    /// <summary>Sends keys in tmux's names (<c>F5</c>, <c>C-c</c>, <c>Tab</c>, <c>q</c>).</summary>
    public void SendKeys(params string[] keys) => Run(["send-keys", "-t", Session, .. keys]);

    /// <summary>Types <paramref name="text"/> literally.</summary>
    public void Type(string text) => Run(["send-keys", "-t", Session, "-l", text]);

    /// <summary>The screen as text (one line per row).</summary>
    public string Capture() => Run(["capture-pane", "-p", "-t", Session]);

    /// <summary>The screen with its attributes.</summary>
    public AnsiScreen CaptureScreen(out string raw, int? width = null, int? height = null)
    {
        raw = Run(["capture-pane", "-e", "-p", "-t", Session]);
        return AnsiScreen.Parse(raw, width ?? Width, height ?? Height);
    }

    /// <summary>
    /// The screen once two captures 150 ms apart agree (colours and attributes included), so an
    /// assertion does not read a frame that is still being drawn; after 5 s, the last capture.
    /// </summary>
    public AnsiScreen CaptureSettledScreen(out string raw, int? width = null, int? height = null)
    {
        var clock = Stopwatch.StartNew();
        raw = Run(["capture-pane", "-e", "-p", "-t", Session]);
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(150);
            string next = Run(["capture-pane", "-e", "-p", "-t", Session]);
            if (next == raw) break;
            raw = next;
        }
        return AnsiScreen.Parse(raw, width ?? Width, height ?? Height);
    }

    /// <summary>Polls the screen until <paramref name="done"/> holds or <paramref name="timeout"/> passes (then fails, showing the screen).</summary>
    public string WaitFor(Func<string, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        string screen = "";
        while (clock.Elapsed < timeout)
        {
            screen = Capture();
            if (done(screen)) return screen;
            Thread.Sleep(200);
        }
        throw new Xunit.Sdk.XunitException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}; the screen:\n{screen}");
    }

    /// <summary>Waits for <paramref name="text"/> to appear on screen.</summary>
    public string WaitForText(string text, TimeSpan timeout) => WaitFor(s => s.Contains(text, StringComparison.Ordinal), timeout, $"'{text}'");

    /// <summary>Resizes the window (the application sees SIGWINCH).</summary>
    public void Resize(int width, int height) => Run(["resize-window", "-t", Session, "-x", width.ToString(), "-y", height.ToString()]);

    /// <summary>The command's exit status once it has ended (from the "[exited N]" line), else null.</summary>
    public int? ExitStatus
    {
        get
        {
            var m = System.Text.RegularExpressions.Regex.Match(Capture(), @"\[exited (\d+)\]");
            return m.Success ? int.Parse(m.Groups[1].Value) : null;
        }
    }

    public void Dispose()
    {
        try { Run(["kill-server"]); } catch (InvalidOperationException) { }
    }

    private string Run(IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-L");
        info.ArgumentList.Add(_socket);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("tmux did not start");
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)}: {error.Trim()}");
        return output;
    }

    private static string? FindOrInstall()
    {
        if (Works()) return null;
        // CI installs tmux; on a developer machine try apt once (as root), then give up with the reason.
        if (Environment.UserName == "root" && File.Exists("/usr/bin/apt-get"))
        {
            Shell("apt-get", "install -y -qq tmux");
            if (Works()) return null;
            Shell("apt-get", "update -qq");
            Shell("apt-get", "install -y -qq tmux");
            if (Works()) return null;
        }
        return "tmux is not installed and could not be installed (apt-get install tmux); the dashboard end-to-end test needs it";
    }

    private static bool Works()
    {
        try { return Shell("tmux", "-V") == 0; }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    private static int Shell(string file, string arguments)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (p is null) return -1;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(); return -1; }
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; }
    }
}

/// <summary>A fact that is skipped, with the reason shown, when tmux is unavailable (CI installs it).</summary>
public sealed class TmuxFactAttribute : Xunit.FactAttribute
{
    public TmuxFactAttribute()
    {
        if (Tmux.Unavailable is { } why) Skip = why;
    }
}
