using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Lume.Cli.Tests;

/// <summary><c>lume ui</c> as a user runs it: a real process serving the view and the API until Ctrl+C.</summary>
public sealed partial class CliProcessTests
{
    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Ui_ServesThePageAndTheApi_ListsARunOfLumeRun_AndStopsOnCtrlC()
    {
        var (runExit, runJson, runError) = await LumeAsync([.. Flow1, "--json"]);
        Assert.True(runExit == 0, runError);
        var runId = JsonSerializer.Deserialize<JsonElement>(runJson).GetProperty("run_id").GetString();
        var port = FreePort();

        var (process, stdout, stderr) = Launch("ui", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using (process)
        {
            var deadline = DateTime.UtcNow.AddSeconds(40);
            while (!stdout.ToString().Contains("Lume UI on", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !process.HasExited)
                await Task.Delay(100);
            Assert.Contains($"Lume UI on http://127.0.0.1:{port} — embedded services, data in {DataDir}", stdout.ToString());

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var flows = JsonSerializer.Deserialize<JsonElement>(await client.GetStringAsync("/api/flows"));
            var page = await client.GetAsync("/");
            var runs = JsonSerializer.Deserialize<JsonElement>(await client.GetStringAsync("/api/runs"));

            Assert.Contains(flows.EnumerateArray(), f => f.GetProperty("name").GetString() == "flow1");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains(runs.EnumerateArray(), r => r.GetProperty("runId").GetString() == runId);

            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{stdout}\n{stderr}");
        }
    }

    [Fact]
    public async Task Ui_OnAPortInUse_ExitsThree_NamingThePort()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exit, _, stderr) = await LumeAsync("ui", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(3, exit);
        Assert.Equal($"error: port {port} on 127.0.0.1 is already in use by another program; stop it, or pass another --port", stderr.Trim());
    }
}
