using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Lume.Hosting;

namespace Lume.Cli.Tests;

/// <summary>The Lume meter counts what operators watch, measured on real runs of the embedded services.</summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    readonly string _dataDir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));
    readonly ConcurrentDictionary<string, double> _totals = new();
    readonly ConcurrentDictionary<string, int> _records = new();
    MeterListener _listener = null!;
    LumeHost _host = null!;

    public async Task InitializeAsync()
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LumeTelemetry.Name)
                    listener.EnableMeasurementEvents(instrument);
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument.Name, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument.Name, value));
        _listener.Start();
        _host = LumeHost.Build(new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir });
        await _host.StartAsync(CancellationToken.None);
    }

    void Record(string name, double value)
    {
        _totals.AddOrUpdate(name, value, (_, total) => total + value);
        _records.AddOrUpdate(name, 1, (_, count) => count + 1);
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        _listener.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task Runs_CountRunsAndTasks_AndTimeThem()
    {
        var ok = await _host.Client.RunAsync("fanout_20", null, new Dictionary<string, JsonElement>());
        var failed = await _host.Client.RunAsync("failing_flow", null, new Dictionary<string, JsonElement> { ["message"] = JsonSerializer.SerializeToElement("x") });

        Assert.True(ok.Succeeded);
        Assert.False(failed.Succeeded);
        // Other tests in this process run flows too, so at least: the meter is process-wide.
        Assert.True(_totals.GetValueOrDefault("lume.runs.started") >= 2);
        Assert.True(_totals.GetValueOrDefault("lume.runs.completed") >= 1);
        Assert.True(_totals.GetValueOrDefault("lume.runs.failed") >= 1);
        Assert.True(_totals.GetValueOrDefault("lume.tasks.started") >= 22);
        Assert.True(_totals.GetValueOrDefault("lume.tasks.completed") >= 21);
        Assert.True(_totals.GetValueOrDefault("lume.tasks.failed") >= 1);
        Assert.True(_records.GetValueOrDefault("lume.task.duration") >= 22);
        Assert.True(_records.GetValueOrDefault("lume.task.queue_wait") >= 22);
        Assert.True(_records.GetValueOrDefault("lume.runs.in_progress") >= 4, "runs in progress went up and down for both runs");
    }
}
