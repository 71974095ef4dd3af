using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>The Gateway as a process of its own, on RabbitMQ, in front of the services as processes.</summary>
[Collection("RabbitMQ")]
public sealed class GatewayTests(ITestOutputHelper output) : ClusterTest(output)
{
    [Fact]
    public async Task Flow1_StartedThroughTheApi_Completes_AndTheApiShowsIt()
    {
        const string token = "integration-token";
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var (_, address) = await Cluster.StartGatewayAsync(("LUME_GATEWAY__TOKEN", token));
        using var http = new HttpClient { BaseAddress = address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        // The worker registers its flows with its first heartbeat: until then the Scheduler rejects a run of flow1.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HttpResponseMessage started;
        while (true)
        {
            started = await http.PostAsJsonAsync("/api/runs", new
            {
                flow = "flow1",
                parameters = new { text1 = "Hello", text2 = "World", filename = "hello.txt", filesystem_identifier = "local" },
            });
            if (started.StatusCode != HttpStatusCode.BadRequest || DateTime.UtcNow > deadline)
                break;
            await Task.Delay(500);
        }

        var body = await started.Content.ReadAsStringAsync();
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, $"{(int)started.StatusCode}: {body}\n{Cluster.Logs}");
        var runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetGuid();
        JsonElement run;
        while (true)
        {
            run = JsonDocument.Parse(await http.GetStringAsync(started.Headers.Location)).RootElement.Clone();
            if (run.GetProperty("state").GetString() != "running" || DateTime.UtcNow > deadline.AddMinutes(2))
                break;
            await Task.Delay(200);
        }

        Assert.Equal("completed", run.GetProperty("state").GetString());
        Assert.Equal(runId, run.GetProperty("runId").GetGuid());
        Assert.Equal("HelloWorld", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "hello.txt")));
        var listed = JsonDocument.Parse(await http.GetStringAsync("/api/runs?flow=flow1&state=completed")).RootElement;
        Assert.Contains(listed.EnumerateArray(), r => r.GetProperty("runId").GetGuid() == runId);
        http.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/runs")).StatusCode);
    }
}
