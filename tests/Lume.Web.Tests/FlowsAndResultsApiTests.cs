using System.Net;
using System.Text.Json;

namespace Lume.Web.Tests;

/// <summary>The flows and results endpoints, and the OpenAPI document.</summary>
[Collection(ApiCollection.Name)]
public sealed class FlowsAndResultsApiTests(ApiHostFixture fixture)
{
    readonly HttpClient _client = fixture.Host.Client;

    [Fact]
    public async Task ListFlows_ShowsEachFlowWithItsParametersAndTasks()
    {
        var flows = await (await _client.GetAsync("/api/flows")).JsonAsync(HttpStatusCode.OK);

        var flow1 = flows.EnumerateArray().Single(f => f.GetProperty("name").GetString() == "flow1");
        Assert.Equal(["text1", "text2", "filename", "filesystem_identifier"],
            flow1.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).ToArray());
        Assert.Contains("append_text", flow1.GetProperty("tasks").EnumerateArray().Select(t => t.GetString()));
        Assert.True(flow1.GetProperty("poolAlive").GetBoolean());
        var approval = flows.EnumerateArray().Single(f => f.GetProperty("name").GetString() == "approval");
        Assert.Equal(41, approval.GetProperty("parameters")[0].GetProperty("default").GetInt32());
    }

    [Fact]
    public async Task QueryResults_AfterFlow2_ShowsTheStoredResult()
    {
        var text = $"Stored{Guid.NewGuid():N}";
        var flow1 = await _client.WaitForRunAsync(await _client.StartRunAsync("flow1",
            new { text1 = text, text2 = "!", filename = $"{Guid.NewGuid():N}.txt", filesystem_identifier = "local" }));
        var fileRep = flow1.TaskOf("save_text_file").GetProperty("result");
        var flow2 = await _client.WaitForRunAsync(await _client.StartRunAsync("flow2", new { file_rep = fileRep }));
        Assert.Equal("completed", flow2.GetProperty("state").GetString());

        var page = await (await _client.GetAsync("/api/results?flow_id=flow2&project=local&limit=100")).JsonAsync(HttpStatusCode.OK);

        Assert.Equal("flow2", page.GetProperty("flowId").GetString());
        var stored = page.GetProperty("results").EnumerateArray().Where(r => r.GetRawText().Contains(text, StringComparison.Ordinal)).ToArray();
        Assert.Single(stored);
        Assert.Equal("flow2", stored[0].GetProperty("flow_id").GetString());
    }

    [Fact]
    public async Task QueryResults_WithoutAFlow_Is400_NamingFlowId()
    {
        var problem = await (await _client.GetAsync("/api/results?project=local")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.NotEmpty(problem.ErrorsFor("flow_id"));
    }

    [Fact]
    public async Task OpenApiDocument_ListsEveryEndpoint()
    {
        var document = await (await _client.GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);

        var paths = document.GetProperty("paths");
        Assert.Equal(["/api/events", "/api/files/content", "/api/flows", "/api/flows/{name}/graph", "/api/result", "/api/results", "/api/runs", "/api/runs/{id}",
                "/api/runs/{id}/cancel", "/api/runs/{id}/events", "/api/runs/{id}/tasks/{slug}/approve"],
            paths.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("StartRun", paths.GetProperty("/api/runs").GetProperty("post").GetProperty("operationId").GetString());
        Assert.Equal(JsonValueKind.String, paths.GetProperty("/api/runs").GetProperty("get").GetProperty("description").ValueKind);
    }
}
