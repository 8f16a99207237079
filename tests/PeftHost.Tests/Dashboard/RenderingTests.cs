using PeftHost.Cli.Dashboard.Session;
using PeftHost.Cli.Dashboard.ViewModels;

namespace PeftHost.Tests.Dashboard;

/// <summary>The rendering-independent pieces: charts as text, number and time formats, /proc/self/statm.</summary>
public sealed class RenderingTests
{
    [Fact]
    public void A_falling_loss_is_drawn_from_top_left_to_bottom_right()
    {
        var points = Enumerable.Range(0, 20).Select(i => ((double)i, 3.0 - i * 0.1)).ToList();
        var lines = LineChart.Render(points, 0, 19, width: 18, height: 4);
        Assert.Equal(4, lines.Count);
        Assert.All(lines, l => Assert.Equal(18, l.Length));
        Assert.Equal("   3.00┤", lines[0][..8]);
        Assert.Equal("   1.10┤", lines[3][..8]);
        string plot0 = lines[0][LineChart.AxisWidth..], plot3 = lines[3][LineChart.AxisWidth..];
        Assert.NotEqual(' ', plot0[0]);      // starts at the top left
        Assert.NotEqual(' ', plot3[^1]);     // ends at the bottom right
        Assert.Equal(' ', plot0[^1]);
        Assert.Equal(' ', plot3[0]);
        Assert.All(lines.SelectMany(l => l[LineChart.AxisWidth..]), c => Assert.True(c == ' ' || c is >= '\u2800' and <= '\u28FF'));
    }

    [Fact]
    public void The_x_range_is_the_run_s_so_a_half_run_fills_half_the_width()
    {
        var lines = LineChart.Render([(0, 1.0), (10, 2.0)], 0, 20, width: 28, height: 3);
        Assert.All(lines, l => Assert.True(l[LineChart.AxisWidth..][12..].Trim().Length == 0, l));
    }

    [Fact]
    public void An_empty_or_flat_series_still_draws()
    {
        Assert.All(LineChart.Render([], 0, 1, 20, 3), l => Assert.Equal(20, l.Length));
        var flat = LineChart.Render([(0, 2.0), (1, 2.0)], 0, 1, 20, 3);
        Assert.Contains(flat, l => l[LineChart.AxisWidth..].Trim().Length > 0);
        Assert.Equal(0x01 | 0x40, LineChart.Bit(0, 0) | LineChart.Bit(0, 3));
    }

    [Theory]
    [InlineData(0, "0:00:00")]
    [InlineData(8.4, "0:00:08")]
    [InlineData(192, "0:03:12")]
    [InlineData(90061, "25:01:01")]
    [InlineData(-5, "0:00:00")]
    public void Durations_read_as_hours_minutes_seconds(double seconds, string text) =>
        Assert.Equal(text, DisplayFormat.Duration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Sizes_rates_and_counts_read_naturally()
    {
        Assert.Equal("512 B", DisplayFormat.Bytes(512));
        Assert.Equal("12.0 KiB", DisplayFormat.Bytes(12 * 1024));
        Assert.Equal("412.3 MiB", DisplayFormat.Bytes((long)(412.3 * 1024 * 1024)));
        Assert.Equal("1.21 GiB", DisplayFormat.Bytes((long)(1.21 * 1024 * 1024 * 1024)));
        Assert.Equal("1,234 tok/s", DisplayFormat.TokensPerSecond(1234.4));
        Assert.Equal("ETA --:--", DisplayFormat.Eta(null));
        Assert.Equal("3.00e-04", DisplayFormat.LearningRate(3e-4));
        Assert.Equal("nan", DisplayFormat.Metric(double.NaN));
        Assert.Equal("6.74B", DisplayFormat.ShortCount(6_742_609_920));
        Assert.Equal("260K", DisplayFormat.ShortCount(260_000));
        Assert.Equal("ab…", DisplayFormat.Fit("abcdef", 3));
        Assert.Equal("ab  ", DisplayFormat.Fit("ab", 4));
    }

    [Fact]
    public void Resident_memory_is_the_second_statm_field_in_pages()
    {
        Assert.Equal(1234L * 4096, ProcessMemory.ResidentBytes("5000 1234 300 10 0 800 0\n", 4096));
        Assert.Null(ProcessMemory.ResidentBytes("garbage", 4096));
        var sample = ProcessMemory.Read();
        Assert.True(sample.ManagedBytes > 0);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(sample.ResidentBytes > 10 * 1024 * 1024, $"RSS {sample.ResidentBytes}");
            Assert.True(sample.NativeHeapBytes > 0);
        }
    }
}
