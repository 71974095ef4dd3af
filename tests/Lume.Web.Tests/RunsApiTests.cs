using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Lume.Web.Tests;

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiHostFixture>
{
    public const string Name = "api";
}

/// <summary>The runs endpoints, driving real example flows through the embedded services.</summary>
[Collection(ApiCollection.Name)]
public sealed class RunsApiTests(ApiHostFixture fixture)
{
    readonly HttpClient _client = fixture.Host.Client;

    static object Flow1Parameters(string text1) => new { text1, text2 = "World", filename = $"{Guid.NewGuid():N}.txt", filesystem_identifier = "local" };

    [Fact]
    public async Task StartRun_Flow1_IsAccepted_AndGetRun_ShowsItCompletedWithEveryTask()
    {
        var text1 = $"Hello{Guid.NewGuid():N}";

        var runId = await _client.StartRunAsync("flow1", Flow1Parameters(text1));
        var run = await _client.WaitForRunAsync(runId);

        Assert.Equal("completed", run.GetProperty("state").GetString());
        Assert.Equal("flow1", run.GetProperty("flow").GetString());
        Assert.Equal(3, run.GetProperty("tasks").GetArrayLength());
        var append = run.TaskOf("append_text");
        Assert.Equal("completed", append.GetProperty("state").GetString());
        Assert.Equal(text1 + "World", append.GetProperty("result").GetString());
        Assert.Equal(1, append.GetProperty("attempt").GetInt32());
        Assert.NotNull(append.GetProperty("worker").GetString());
    }

    [Fact]
    public async Task StartRun_FailingFlow_EndsFailed_NamingTheTaskAndItsError()
    {
        var runId = await _client.StartRunAsync("failing_flow", new { message = "boom" });
        var run = await _client.WaitForRunAsync(runId);

        Assert.Equal("failed", run.GetProperty("state").GetString());
        Assert.Equal("raise_error", run.GetProperty("failedTask").GetString());
        Assert.Contains("boom", run.TaskOf("raise_error").GetProperty("error").GetString());
        Assert.Equal("skipped", run.TaskOf("append_text").GetProperty("state").GetString());
        // A failure too quick for a TaskStarted still has its start time, from the failure's report: the timeline draws it.
        var failed = run.TaskOf("raise_error");
        Assert.Equal(JsonValueKind.String, failed.GetProperty("startedAt").ValueKind);
        Assert.True(failed.GetProperty("startedAt").GetDateTimeOffset() <= failed.GetProperty("finishedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task StartRun_WithAMissingParameter_Is400_NamingTheParameter()
    {
        var response = await _client.PostAsJsonAsync("/api/runs", new { flow = "flow1", parameters = new { text1 = "a", filename = "x.txt", filesystem_identifier = "local" } });

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("missing", Assert.Single(problem.ErrorsFor("parameters.text2")));
    }

    [Fact]
    public async Task StartRun_OfAnUnknownFlow_Is400_NamingTheFlow()
    {
        var response = await _client.PostAsJsonAsync("/api/runs", new { flow = "no_such_flow" });

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("no_such_flow", Assert.Single(problem.ErrorsFor("flow")));
    }

    [Theory]
    [InlineData("{not json", "body")]
    [InlineData("", "body")]
    [InlineData("[1, 2]", "body")]
    [InlineData("""{"parameters": {}}""", "flow")]
    [InlineData("""{"flow": 3}""", "flow")]
    [InlineData("""{"flow": "flow1", "parameters": [1]}""", "parameters")]
    [InlineData("""{"flow": "flow1", "parameters": {}, "version": 2}""", "version")]
    [InlineData("""{"flow": "flow1", "parameters": {}, "timeoutSeconds": -1}""", "timeoutSeconds")]
    public async Task StartRun_WithABadBody_Is400_NamingTheField(string body, string field)
    {
        var response = await _client.PostJsonAsync("/api/runs", body);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.NotEmpty(problem.ErrorsFor(field));
    }

    [Fact]
    public async Task ListRuns_FiltersByFlowAndState()
    {
        var failed = await _client.StartRunAsync("failing_flow", new { message = "listed" });
        var completed = await _client.StartRunAsync("flow3", new { text1 = "a", text2 = "a" });
        await _client.WaitForRunAsync(failed);
        await _client.WaitForRunAsync(completed);

        var all = await (await _client.GetAsync("/api/runs?limit=1000")).JsonAsync(HttpStatusCode.OK);
        var failedRuns = await (await _client.GetAsync("/api/runs?state=failed")).JsonAsync(HttpStatusCode.OK);
        var flow3Runs = await (await _client.GetAsync("/api/runs?flow=flow3&state=completed")).JsonAsync(HttpStatusCode.OK);

        var listed = all.EnumerateArray().Single(r => r.GetProperty("runId").GetGuid() == failed);
        Assert.Equal("failing_flow", listed.GetProperty("flow").GetString());
        Assert.Equal("failed", listed.GetProperty("state").GetString());
        Assert.True(listed.GetProperty("durationSeconds").GetDouble() >= 0);
        Assert.Contains(all.EnumerateArray(), r => r.GetProperty("runId").GetGuid() == completed);
        Assert.All(failedRuns.EnumerateArray(), r => Assert.Equal("failed", r.GetProperty("state").GetString()));
        Assert.Contains(failedRuns.EnumerateArray(), r => r.GetProperty("runId").GetGuid() == failed);
        Assert.All(flow3Runs.EnumerateArray(), r => Assert.Equal("flow3", r.GetProperty("flow").GetString()));
        Assert.Contains(flow3Runs.EnumerateArray(), r => r.GetProperty("runId").GetGuid() == completed);
    }

    [Theory]
    [InlineData("/api/runs?state=finished", "state")]
    [InlineData("/api/runs?state=Failed", "state")]
    [InlineData("/api/runs?limit=0", "limit")]
    [InlineData("/api/runs?limit=many", "limit")]
    [InlineData("/api/runs/not-a-guid", "id")]
    public async Task Get_WithABadQueryOrId_Is400_NamingIt(string path, string field)
    {
        var problem = await (await _client.GetAsync(path)).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.NotEmpty(problem.ErrorsFor(field));
    }

    [Fact]
    public async Task GetRun_OfAnUnknownRun_Is404()
    {
        var runId = Guid.NewGuid();

        var problem = await (await _client.GetAsync($"/api/runs/{runId}")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Contains(runId.ToString(), problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task CancelRun_OfARunningRun_CancelsIt_WithTheReasonGiven()
    {
        var runId = await _client.StartRunAsync("chaos_slow", new { });
        await _client.WaitForRunAsync(runId, run => run.TaskOf("slow-1").GetProperty("state").GetString() is "running" or "completed");

        var cancelled = await (await _client.PostJsonAsync($"/api/runs/{runId}/cancel", """{"reason": "enough of it"}""")).JsonAsync(HttpStatusCode.OK);

        Assert.Equal("cancelled", cancelled.GetProperty("state").GetString());
        var run = await _client.WaitForRunAsync(runId);
        Assert.Equal("cancelled", run.GetProperty("state").GetString());
        Assert.Contains("enough of it", run.GetProperty("error").GetString());
        Assert.Equal("cancelled", run.TaskOf($"slow-{Lume.Examples.ChaosFlows.SlowSteps}").GetProperty("state").GetString());
    }

    [Fact]
    public async Task CancelRun_OfAnUnknownRun_Is404_AndABadBodyIs400()
    {
        await (await _client.PostAsync($"/api/runs/{Guid.NewGuid()}/cancel", null)).ProblemAsync(HttpStatusCode.NotFound);

        var problem = await (await _client.PostJsonAsync($"/api/runs/{Guid.NewGuid()}/cancel", """{"reason": 5}""")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.NotEmpty(problem.ErrorsFor("reason"));
    }

    [Fact]
    public async Task ApproveTask_ReleasesAPausedTask_ThenIs409_AndUnknownRunIs404()
    {
        var runId = await _client.StartRunAsync("approval", new { value = 1 });
        await _client.WaitForRunAsync(runId, run => run.TaskOf("publish").GetProperty("state").GetString() == "paused");

        var approval = await (await _client.PostAsync($"/api/runs/{runId}/tasks/publish/approve", null)).JsonAsync(HttpStatusCode.OK);
        Assert.True(approval.GetProperty("approved").GetBoolean());
        var run = await _client.WaitForRunAsync(runId);
        Assert.Equal("completed", run.GetProperty("state").GetString());
        Assert.Equal(2, run.TaskOf("publish").GetProperty("result").GetInt32());

        var again = await (await _client.PostAsync($"/api/runs/{runId}/tasks/publish/approve", null)).ProblemAsync(HttpStatusCode.Conflict);
        Assert.False(string.IsNullOrEmpty(again.GetProperty("detail").GetString()));
        await (await _client.PostAsync($"/api/runs/{Guid.NewGuid()}/tasks/publish/approve", null)).ProblemAsync(HttpStatusCode.NotFound);
    }
}
