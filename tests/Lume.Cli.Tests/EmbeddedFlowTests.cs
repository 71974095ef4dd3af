using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Cli.Tests;

/// <summary>The example flows end to end through the embedded host, as <c>lume run</c> drives them.</summary>
public sealed class EmbeddedFlowTests : IAsyncLifetime
{
    readonly string _dataDir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));
    LumeHost _host = null!;
    RunClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = LumeHost.Build(new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir }, builder =>
        {
            builder.Services.AddLumeFlow(Flow.Define("save_once", f =>
                f.Task("save_file", new { obj = f.Parameter("text"), filename = "once.txt", filesystem_identifier = "local" })));
        });
        await _host.StartAsync(CancellationToken.None);
        _client = _host.Client;
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }

    static Dictionary<string, JsonElement> Parameters(params (string Name, object Value)[] values) =>
        values.ToDictionary(v => v.Name, v => JsonSerializer.SerializeToElement(v.Value));

    sealed class Recorder : IRunObserver
    {
        public List<string> Events { get; } = [];

        public void TaskStarted(TaskStarted message) => Events.Add($"started {message.TaskSlug}");

        public void TaskCompleted(TaskCompleted message) => Events.Add($"completed {message.TaskSlug}");

        public void TaskFailed(TaskFailed message) => Events.Add($"failed {message.TaskSlug}");
    }

    [Fact]
    public async Task Flow1_SavesTheAppendedText_AndReturnsTheFileRep()
    {
        var recorder = new Recorder();
        var text1 = $"Hello{Guid.NewGuid():N}";

        var outcome = await _client.RunAsync("flow1", null,
            Parameters(("text1", text1), ("text2", "World"), ("filename", "out/hello.txt"), ("filesystem_identifier", "local")), recorder);

        // out/ does not exist and flow1 passes no create_dir: the save fails, the rest completed.
        Assert.False(outcome.Succeeded);
        Assert.Equal("save_text_file", outcome.Failure!.FailedTask);
        Assert.Equal("DirectoryNotFound", outcome.Snapshot!.Tasks.Single(t => t.Slug == "save_text_file").ErrorType);

        outcome = await _client.RunAsync("flow1", null,
            Parameters(("text1", text1), ("text2", "World"), ("filename", "hello.txt"), ("filesystem_identifier", "local")), recorder);

        Assert.True(outcome.Succeeded);
        var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
        Assert.All(tasks.Values, t => Assert.Equal(TaskState.Completed, t.State));
        Assert.Equal(text1 + "World", tasks["append_text"].Result!.Value.GetString());
        var rep = tasks["save_text_file"].Result!.Value;
        Assert.Equal(["filename", "file_type_string", "filesystem_identifier"], rep.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("hello.txt", rep.GetProperty("filename").GetString());
        Assert.Equal("local", rep.GetProperty("filesystem_identifier").GetString());
        Assert.Equal(text1 + "World", await File.ReadAllTextAsync(Path.Combine(_dataDir, "files", "hello.txt")));
        Assert.True(recorder.Events.LastIndexOf("completed configure_lume_services") < recorder.Events.LastIndexOf("completed save_text_file"));
        Assert.True(recorder.Events.LastIndexOf("completed append_text") < recorder.Events.LastIndexOf("completed save_text_file"));
        Assert.True(tasks["save_text_file"].StartedAt >= tasks["append_text"].FinishedAt);
    }

    [Fact]
    public async Task Flow1ThenFlow2ThenCheck_ChainsAFileRepAndAResultRep()
    {
        var text1 = $"chained-{Guid.NewGuid():N}";
        var first = await _client.RunAsync("flow1", null,
            Parameters(("text1", text1), ("text2", "World"), ("filename", "chain.txt"), ("filesystem_identifier", "local")));
        var fileRep = first.Snapshot!.Tasks.Single(t => t.Slug == "save_text_file").Result!.Value;

        var second = await _client.RunAsync("flow2", null, new Dictionary<string, JsonElement> { ["file_rep"] = fileRep });
        var again = await _client.RunAsync("flow2", null, new Dictionary<string, JsonElement> { ["file_rep"] = fileRep });
        var resultRep = second.Snapshot!.Tasks.Single(t => t.Slug == "save_db_result").Result!.Value;
        var check = await _client.RunAsync("check_result", null, new Dictionary<string, JsonElement>
        {
            ["result_rep"] = resultRep,
            ["expected"] = JsonSerializer.SerializeToElement(text1 + "World"),
        });

        Assert.True(second.Succeeded, second.Failure?.Message);
        Assert.Equal("local", resultRep.GetProperty("project_name").GetString());
        Assert.Equal(resultRep.GetRawText(), again.Snapshot!.Tasks.Single(t => t.Slug == "save_db_result").Result!.Value.GetRawText());
        Assert.True(check.Succeeded, check.Failure?.Message);
        Assert.True(check.Snapshot!.Tasks.Single(t => t.Slug == "check_text_equivalence").Result!.Value.GetBoolean());
        Assert.Equal(text1 + "World", check.Snapshot.Tasks.Single(t => t.Slug == "load_db_result").Result!.Value.GetString());
        // flow2's task returns no flow_id: save_db_result filled in the run's flow.
        var stored = await _host.Host.Services.GetRequiredService<MassTransit.IClientFactory>().CreateRequestClient<LoadResult>()
            .GetResponse<ResultLoaded>(new LoadResult(resultRep, [JsonSerializer.SerializeToElement("flow_id")]));
        Assert.Equal("flow2", stored.Message.Value.GetString());
    }

    [Fact]
    public async Task AResultOverTheInlineLimit_ReachesTheStoreAndTheNextTask_InProcessWithoutAClaimCheck()
    {
        var times = TaskLimits.InlineResultBytes / 4 + 1000; // about 68 KB of JSON

        var outcome = await _client.RunAsync("big_result", null, Parameters(("text", "abcd"), ("times", times)));

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var big = outcome.Snapshot!.Tasks.Single(t => t.Slug == "big").Result!.Value.GetString()!;
        Assert.Equal(times * 4, big.Length);
        Assert.Equal(big + "!", outcome.Snapshot.Tasks.Single(t => t.Slug == "after").Result!.Value.GetString());
        // Embedded, the worker hands its report to the Scheduler in the same process: no claim check is written.
        var claimChecks = Path.Combine(_dataDir, "message-data");
        Assert.Empty(Directory.Exists(claimChecks) ? Directory.GetFiles(claimChecks, "*", SearchOption.AllDirectories) : []);
    }

    [Fact]
    public async Task AResultOverTheLimit_FailsTheTask_NamingTheLimit()
    {
        var outcome = await _client.RunAsync("big_result", null, Parameters(("text", "abcd"), ("times", TaskLimits.MaxResultBytes / 4 + 10)));

        Assert.False(outcome.Succeeded);
        var big = outcome.Snapshot!.Tasks.Single(t => t.Slug == "big");
        Assert.Equal(TaskErrors.ResultTooLarge, big.ErrorType);
        Assert.Contains(TaskLimits.MaxResultBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), big.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SaveFile_DoesNotOverwrite_UnlessTheFlowSaysSo()
    {
        var first = await _client.RunAsync("save_once", null, Parameters(("text", "first")));
        var second = await _client.RunAsync("save_once", null, Parameters(("text", "second")));

        Assert.True(first.Succeeded, first.Failure?.Message);
        Assert.False(second.Succeeded);
        Assert.Equal("FileExists", second.Snapshot!.Tasks.Single().ErrorType);
        Assert.Equal("first", await File.ReadAllTextAsync(Path.Combine(_dataDir, "files", "once.txt")));
    }

    [Theory]
    [InlineData("same", "same", true)]
    [InlineData("same", "other", false)]
    public async Task Flow3_ChecksTextEquivalence(string text1, string text2, bool equal)
    {
        var outcome = await _client.RunAsync("flow3", null, Parameters(("text1", text1), ("text2", text2)));

        Assert.True(outcome.Succeeded);
        Assert.Equal(equal, outcome.Snapshot!.Tasks.Single().Result!.Value.GetBoolean());
    }

    [Fact]
    public async Task FailingFlow_FailsNamingTheTaskAndItsError_AndSkipsWhatFollows()
    {
        var message = $"boom {Guid.NewGuid():N}";

        var outcome = await _client.RunAsync("failing_flow", null, Parameters(("message", message)));

        Assert.False(outcome.Succeeded);
        Assert.Equal(RunFailureKind.TaskFailed, outcome.Failure!.Kind);
        Assert.Equal("raise_error", outcome.Failure.FailedTask);
        Assert.Contains(message, outcome.Failure.Message, StringComparison.Ordinal);
        var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
        Assert.Equal(TaskState.Failed, tasks["raise_error"].State);
        Assert.Equal("InvalidOperationException", tasks["raise_error"].ErrorType);
        Assert.Equal(TaskState.Skipped, tasks["append_text"].State);
    }

    [Fact]
    public async Task ManyRunsAtOnce_AllComplete_WithTheirOwnResults()
    {
        var runs = Enumerable.Range(0, 20)
            .Select(i => _client.RunAsync("flow1", null, Parameters(("text1", $"t{i}-"), ("text2", "x"), ("filename", $"f{i}.txt"), ("filesystem_identifier", "local"))))
            .ToArray();

        var outcomes = await Task.WhenAll(runs);

        Assert.All(outcomes, o => Assert.True(o.Succeeded));
        for (var i = 0; i < 20; i++)
            Assert.Equal($"t{i}-x", await File.ReadAllTextAsync(Path.Combine(_dataDir, "files", $"f{i}.txt")));
    }
}
