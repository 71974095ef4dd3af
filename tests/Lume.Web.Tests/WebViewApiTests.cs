using System.Net;
using System.Text.Json;

namespace Lume.Web.Tests;

/// <summary>What the web view reads besides runs and flows: flow graphs, files, results by rep, and the run lists' counts and filters.</summary>
[Collection(ApiCollection.Name)]
public sealed class WebViewApiTests(ApiHostFixture fixture)
{
    readonly HttpClient _client = fixture.Host.Client;

    static object Flow1Parameters(string text1) => new { text1, text2 = "World", filename = $"{Guid.NewGuid():N}.txt", filesystem_identifier = "local" };

    async Task<JsonElement> GraphAsync(string flow)
    {
        var flows = await (await _client.GetAsync("/api/flows")).JsonAsync(HttpStatusCode.OK);
        var version = flows.EnumerateArray().Single(f => f.GetProperty("name").GetString() == flow).GetProperty("version").GetString();
        var graph = await (await _client.GetAsync($"/api/flows/{flow}/graph?version={Uri.EscapeDataString(version!)}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(flow, graph.GetProperty("flow").GetString());
        Assert.Equal(version, graph.GetProperty("version").GetString());
        return graph;
    }

    static JsonElement GraphTask(JsonElement graph, string slug) =>
        graph.GetProperty("tasks").EnumerateArray().Single(t => t.GetProperty("slug").GetString() == slug);

    [Fact]
    public async Task FlowGraph_OfFlow1_ListsItsTasksAndWhatEachWaitsFor()
    {
        var graph = await GraphAsync("flow1");

        Assert.Equal(["configure_lume_services", "append_text", "save_text_file"],
            graph.GetProperty("tasks").EnumerateArray().Select(t => t.GetProperty("slug").GetString()!).ToArray());
        var save = GraphTask(graph, "save_text_file");
        Assert.Equal(["append_text", "configure_lume_services"], save.GetProperty("upstream").EnumerateArray().Select(u => u.GetString()!).Order().ToArray());
        Assert.Equal("save_file", save.GetProperty("type").GetString());
        Assert.False(save.GetProperty("mapped").GetBoolean());
        Assert.Equal(JsonValueKind.Null, save.GetProperty("subflow").ValueKind);
        Assert.Equal("all_successful", save.GetProperty("trigger").GetString());
    }

    [Fact]
    public async Task FlowGraph_OfMapSquare_MarksTheMappedTask()
    {
        var graph = await GraphAsync("map_square");

        Assert.True(GraphTask(graph, "square").GetProperty("mapped").GetBoolean());
        Assert.False(GraphTask(graph, "sum").GetProperty("mapped").GetBoolean());
    }

    [Fact]
    public async Task FlowGraph_OfApproval_ShowsTheManualTrigger()
    {
        var graph = await GraphAsync("approval");

        Assert.Equal("manual_only", GraphTask(graph, "publish").GetProperty("trigger").GetString());
    }

    [Fact]
    public async Task FlowGraph_OfAnUnknownVersion_Is404_NamingIt()
    {
        var problem = await (await _client.GetAsync("/api/flows/flow1/graph?version=no-such-version")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Contains("no-such-version", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task FlowGraph_WithoutAVersion_Is400_NamingVersion()
    {
        var problem = await (await _client.GetAsync("/api/flows/flow1/graph")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.NotEmpty(problem.ErrorsFor("version"));
    }

    [Fact]
    public async Task FileContent_OfFlow1sSavedFile_IsItsText_Inline_AndSandboxed()
    {
        var text1 = $"Saved{Guid.NewGuid():N}";
        var run = await _client.WaitForRunAsync(await _client.StartRunAsync("flow1", Flow1Parameters(text1)));
        var rep = run.TaskOf("save_text_file").GetProperty("result").GetRawText();

        var response = await _client.GetAsync($"/api/files/content?rep={Uri.EscapeDataString(rep)}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(text1 + "World", await response.Content.ReadAsStringAsync());
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("inline", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("sandbox", string.Join(";", response.Headers.GetValues("Content-Security-Policy")));
    }

    [Fact]
    public async Task FileContent_OfALargeBinaryFile_IsStreamedWhole_AndItsClaimCopyDeleted()
    {
        // Over the FileService's inline limit (1 MiB): it comes by claim check.
        var bytes = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(bytes);
        var name = $"{Guid.NewGuid():N}.bin";
        Directory.CreateDirectory(Path.Combine(fixture.Host.DataDir, "files"));
        await File.WriteAllBytesAsync(Path.Combine(fixture.Host.DataDir, "files", name), bytes);
        var rep = JsonSerializer.Serialize(new Dictionary<string, string>
            { ["filename"] = name, ["file_type_string"] = "BinaryFile", ["filesystem_identifier"] = "local" });

        var response = await _client.GetAsync($"/api/files/content?rep={Uri.EscapeDataString(rep)}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.ToString());
        var received = await response.Content.ReadAsByteArrayAsync();
        Assert.True(bytes.AsSpan().SequenceEqual(received), "the bytes differ");
        var claims = Path.Combine(fixture.Host.DataDir, "message-data");
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (Directory.Exists(claims) && Directory.EnumerateFiles(claims, "*", SearchOption.AllDirectories).Any() && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        // The claim copy's folders go with it.
        Assert.False(Directory.Exists(claims) && Directory.EnumerateFiles(claims, "*", SearchOption.AllDirectories).Any(), "the claim copy is left");
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1]")]
    [InlineData("{\"filename\": \"x.txt\"}")]
    public async Task FileContent_WithABadRep_Is400_NamingRep(string rep)
    {
        var problem = await (await _client.GetAsync($"/api/files/content?rep={Uri.EscapeDataString(rep)}")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.NotEmpty(problem.ErrorsFor("rep"));
    }

    [Fact]
    public async Task FileContent_OfAMissingFile_Is404_NamingTheFile()
    {
        var name = $"{Guid.NewGuid():N}.txt";
        var rep = JsonSerializer.Serialize(new Dictionary<string, string>
            { ["filename"] = name, ["file_type_string"] = "TextFile", ["filesystem_identifier"] = "local" });

        var problem = await (await _client.GetAsync($"/api/files/content?rep={Uri.EscapeDataString(rep)}")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Equal("FileNotFound", problem.GetProperty("title").GetString());
        Assert.Contains(name, problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Result_ByTheRepThatFlow2Stored_IsTheDbDict()
    {
        var text = $"Result{Guid.NewGuid():N}";
        var flow1 = await _client.WaitForRunAsync(await _client.StartRunAsync("flow1", Flow1Parameters(text)));
        var flow2 = await _client.WaitForRunAsync(await _client.StartRunAsync("flow2", new { file_rep = flow1.TaskOf("save_text_file").GetProperty("result") }));
        var rep = flow2.TaskOf("save_db_result").GetProperty("result").GetRawText();

        var stored = await (await _client.GetAsync($"/api/result?rep={Uri.EscapeDataString(rep)}")).JsonAsync(HttpStatusCode.OK);

        Assert.Equal("flow2", stored.GetProperty("flow_id").GetString());
        Assert.Contains(text, stored.GetRawText(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{oops")]
    public async Task Result_WithABadRep_Is400_NamingRep(string rep)
    {
        var problem = await (await _client.GetAsync($"/api/result?rep={Uri.EscapeDataString(rep)}")).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.NotEmpty(problem.ErrorsFor("rep"));
    }

    [Fact]
    public async Task ListRuns_CountsEachRunsTasksByState_AndFiltersByFlowAndState()
    {
        var completed = await _client.StartRunAsync("flow1", Flow1Parameters("Count"));
        var failed = await _client.StartRunAsync("failing_flow", new { message = "boom" });
        await _client.WaitForRunAsync(completed);
        await _client.WaitForRunAsync(failed);

        var flow1Completed = await (await _client.GetAsync("/api/runs?flow=flow1&state=completed&limit=1000")).JsonAsync(HttpStatusCode.OK);
        var failures = await (await _client.GetAsync("/api/runs?state=failed&limit=1000")).JsonAsync(HttpStatusCode.OK);

        Assert.All(flow1Completed.EnumerateArray(), r => Assert.Equal(("flow1", "completed"), (r.GetProperty("flow").GetString(), r.GetProperty("state").GetString())));
        var listed = flow1Completed.EnumerateArray().Single(r => r.GetProperty("runId").GetGuid() == completed);
        Assert.Equal("{\"completed\":3}", listed.GetProperty("taskCounts").GetRawText());
        Assert.All(failures.EnumerateArray(), r => Assert.Equal("failed", r.GetProperty("state").GetString()));
        var failing = failures.EnumerateArray().Single(r => r.GetProperty("runId").GetGuid() == failed);
        Assert.Equal(1, failing.GetProperty("taskCounts").GetProperty("failed").GetInt32());
        Assert.DoesNotContain(failures.EnumerateArray(), r => r.GetProperty("runId").GetGuid() == completed);
    }
}
