using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Lume.Flows;
using Lume.Cli;
using Lume.Cli.Commands;
using Lume.Hosting;

namespace Lume.Ui.Tests;

/// <summary>
/// The web view hosted for real, as <c>lume ui</c> hosts it: Kestrel on a free port of 127.0.0.1, the pages and the API,
/// and every service embedded on the in-memory transport, with a data folder of its own.
/// </summary>
public sealed class UiHost : IAsyncDisposable
{
    readonly string _dataDir = Path.Combine(Path.GetTempPath(), "lume-ui-tests", Guid.NewGuid().ToString("N"));
    LumeHost? _lume;

    /// <summary>The view's address, e.g. http://127.0.0.1:41234 (no trailing slash).</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>A client of the API (with the bearer token when the host has one).</summary>
    public HttpClient Api { get; private set; } = null!;

    public string DataDir => _dataDir;

    /// <summary>Where the local filesystem saves files: a flow's save_file with filesystem_identifier "local" writes here.</summary>
    public string FilesDir => Path.Combine(_dataDir, "files");

    public static async Task<UiHost> StartAsync(string? token = null, IEnumerable<FlowDefinition>? extraFlows = null)
    {
        var host = new UiHost();
        // Built as lume ui builds it, on a free port.
        host._lume = UiCommand.BuildHost(0,
            new Dictionary<string, string?> { ["DATA_DIR"] = host._dataDir, ["BROKER"] = "", ["GATEWAY:TOKEN"] = token },
            b =>
            {
                foreach (var flow in extraFlows ?? [])
                    b.Services.AddLumeFlow(flow);
            });
        await host._lume.StartAsync(CancellationToken.None);
        host.BaseUrl = UiCommand.AddressOf(host._lume);
        host.Api = new HttpClient { BaseAddress = new Uri(host.BaseUrl) };
        if (token is not null)
            host.Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return host;
    }

    /// <summary>Starts a run through the API, as another client would; returns its id.</summary>
    public async Task<string> StartRunAsync(string flow, object parameters)
    {
        using var response = await Api.PostAsJsonAsync("/api/runs", new { flow, parameters });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 202, $"POST /api/runs for {flow}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
    }

    /// <summary>The run's snapshot (GET /api/runs/{id}).</summary>
    public async Task<JsonElement> GetRunAsync(string runId) =>
        JsonDocument.Parse(await Api.GetStringAsync($"/api/runs/{runId}")).RootElement;

    /// <summary>Waits until the run is no longer running; returns its snapshot.</summary>
    public async Task<JsonElement> WaitForRunAsync(string runId, int timeoutSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var run = await GetRunAsync(runId);
            if (run.GetProperty("state").GetString() != "running")
                return run;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"run {runId} still running after {timeoutSeconds} s");
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Api?.Dispose();
        if (_lume is not null)
        {
            await _lume.Host.StopAsync();
            _lume.Dispose();
        }

        if (Directory.Exists(_dataDir))
            Directory.Delete(_dataDir, recursive: true);
    }
}
