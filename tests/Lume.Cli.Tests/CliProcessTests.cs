using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Lume.Cli.Tests;

/// <summary>The built <c>lume</c> command as a user runs it: a real process, its output and its exit code.</summary>
public sealed partial class CliProcessTests : IDisposable
{
    readonly string _top = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));

    string DataDir => Path.Combine(_top, "data");

    public void Dispose()
    {
        if (Directory.Exists(_top))
            Directory.Delete(_top, recursive: true);
    }

    Task<(int ExitCode, string Stdout, string Stderr)> LumeAsync(params string[] arguments) => LumeWithAsync([], arguments);

    async Task<(int ExitCode, string Stdout, string Stderr)> LumeWithAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(environment, arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    // The built lume.dll, run in this test's folder with its data folder and no colours.
    ProcessStartInfo StartInfo(Dictionary<string, string> environment, string[] arguments)
    {
        // Through env, which gives SIGINT back its default: a test run started in the background (nohup, CI) passes an
        // ignored SIGINT down to every child, and a command that inherits it rightly takes no notice of Ctrl+C.
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory.CreateDirectory(_top).FullName,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lume.dll"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["LUME_DATA_DIR"] = DataDir;
        start.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        return start;
    }

    /// <summary>Starts <c>lume</c> without waiting for it, its output gathered as it comes.</summary>
    (Process Process, System.Text.StringBuilder Stdout, System.Text.StringBuilder Stderr) Launch(params string[] arguments)
    {
        var process = Process.Start(StartInfo([], arguments))!;
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, stdout, stderr);
    }

    [Fact]
    public async Task CtrlC_CancelsTheRunItStarted_ExitsWithin2Seconds_AndTheStoreSaysCancelled()
    {
        var (process, stdout, stderr) = Launch("run", "slow_save", "-p", "text=never", "-p", "filename=never.txt", "-p", "seconds:=60");
        using (process)
        {
            var deadline = DateTime.UtcNow.AddSeconds(40);
            while (!stdout.ToString().Contains("slow_save_text started", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !process.HasExited)
                await Task.Delay(100);
            Assert.True(stdout.ToString().Contains("slow_save_text started", StringComparison.Ordinal), $"{stdout}\n{stderr}");

            var interrupted = Stopwatch.StartNew();
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                Assert.Fail($"lume did not exit within 30 s of SIGINT\n{stdout}\n{stderr}");
            }

            interrupted.Stop();

            Assert.Equal(130, process.ExitCode);
            Assert.True(interrupted.Elapsed < TimeSpan.FromSeconds(2), $"took {interrupted.Elapsed}");
        }

        var runId = System.Text.RegularExpressions.Regex.Match(stderr.ToString(), "run ([0-9a-f-]{36}) was cancelled").Groups[1].Value;
        Assert.True(Guid.TryParse(runId, out _), stderr.ToString());
        var (exit, shown, showError) = await LumeAsync("runs", "show", runId, "--json");
        Assert.True(exit == 0, showError);
        var run = JsonSerializer.Deserialize<JsonElement>(shown);
        Assert.Equal("cancelled", run.GetProperty("state").GetString());
        Assert.Equal("cancelled", run.GetProperty("tasks").GetProperty("slow_save_text").GetProperty("state").GetString());
        Assert.False(File.Exists(Path.Combine(DataDir, "files", "never.txt")));
    }

    [Fact]
    public async Task RunsCancel_OfAnEndedRun_SaysSo_AndOfAnUnknownOne_ExitsTwo()
    {
        var (_, json, _) = await LumeAsync([.. Flow1, "--json"]);
        var runId = JsonSerializer.Deserialize<JsonElement>(json).GetProperty("run_id").GetString()!;

        var (exit, stdout, stderr) = await LumeAsync("runs", "cancel", runId);
        var (unknownExit, _, unknownError) = await LumeAsync("runs", "cancel", Guid.NewGuid().ToString());

        Assert.True(exit == 0, stderr);
        Assert.Contains("had already ended: completed", stdout, StringComparison.Ordinal);
        Assert.Equal(2, unknownExit);
        Assert.Contains("is not known to the Scheduler", unknownError, StringComparison.Ordinal);
    }

    static readonly string[] Flow1 = ["run", "flow1", "-p", "text1=Hello", "-p", "text2=World", "-p", "filename=hello.txt", "-p", "filesystem_identifier=local"];

    [Fact]
    public async Task RunFlow1_ShowsTasksDurationAndTheFileRep_AndSavesHelloWorld()
    {
        var (exit, stdout, stderr) = await LumeAsync(Flow1);

        Assert.True(exit == 0, stderr);
        // The run's state as everywhere else: its wire name, "completed".
        Assert.Matches(@"(?m)^Run [0-9a-f-]{36} of flow1 completed in ", stdout);
        foreach (var task in new[] { "configure_lume_services", "append_text", "save_text_file" })
            Assert.Contains($"{task} completed in", stdout, StringComparison.Ordinal);
        var repLine = stdout.Split('\n').Single(l => l.StartsWith("save_text_file: ", StringComparison.Ordinal));
        var rep = JsonSerializer.Deserialize<JsonElement>(repLine["save_text_file: ".Length..]);
        Assert.Equal("hello.txt", rep.GetProperty("filename").GetString());
        Assert.Equal("HelloWorld", await File.ReadAllTextAsync(Path.Combine(DataDir, "files", "hello.txt")));
    }

    [Fact]
    public async Task ALongRun_IsFollowedToItsEnd_ThroughTheProgressReportsOnTheWay()
    {
        // Forty steps of 0.3 s: the Scheduler reports the run's progress every second meanwhile (RunsProgressed).
        var (exit, stdout, stderr) = await LumeAsync("run", "chaos_busy", "--json");

        Assert.True(exit == 0, stderr);
        var run = JsonSerializer.Deserialize<JsonElement>(stdout);
        Assert.Equal("completed", run.GetProperty("state").GetString());
        Assert.All(run.GetProperty("tasks").EnumerateObject(), t => Assert.Equal("completed", t.Value.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task RunWithJson_PrintsOneObjectWithEveryTask()
    {
        var (exit, stdout, stderr) = await LumeAsync([.. Flow1, "--json"]);

        Assert.True(exit == 0, stderr);
        var run = JsonSerializer.Deserialize<JsonElement>(stdout);
        Assert.True(Guid.TryParse(run.GetProperty("run_id").GetString(), out _));
        Assert.Equal("flow1", run.GetProperty("flow").GetString());
        Assert.Equal("completed", run.GetProperty("state").GetString());
        var tasks = run.GetProperty("tasks");
        Assert.Equal(["configure_lume_services", "append_text", "save_text_file"], tasks.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("HelloWorld", tasks.GetProperty("append_text").GetProperty("result").GetString());
        Assert.Equal("lume_services.files.file:File[TextSerializer]",
            tasks.GetProperty("save_text_file").GetProperty("result").GetProperty("file_type_string").GetString());
    }

    [Fact]
    public async Task RunsShow_GivesTheSameJsonAsRun_AndRunsListsTheRun()
    {
        var (_, ran, _) = await LumeAsync([.. Flow1, "--json"]);
        var runId = JsonSerializer.Deserialize<JsonElement>(ran).GetProperty("run_id").GetString()!;

        var (showExit, shown, _) = await LumeAsync("runs", "show", runId, "--json");
        var (listExit, listed, _) = await LumeAsync("runs", "--json");

        Assert.Equal(0, showExit);
        Assert.Equal(ran, shown);
        Assert.Equal(0, listExit);
        var run = Assert.Single(JsonSerializer.Deserialize<JsonElement>(listed).EnumerateArray());
        Assert.Equal(runId, run.GetProperty("run_id").GetString());
        Assert.Equal("completed", run.GetProperty("state").GetString());
        // Plain UTF-8 JSON: the offset of a time reads "+00:00", not "\u002B00:00".
        Assert.Matches(@"""created_at"": ""[^""]+\+00:00""", listed);
        Assert.DoesNotContain("\\u002B", listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsTrace_ShowsTheTasksInOrder_WithTheirWaitsAndDurations()
    {
        var (_, ran, _) = await LumeAsync([.. Flow1, "--json"]);
        var runId = JsonSerializer.Deserialize<JsonElement>(ran).GetProperty("run_id").GetString()!;

        var (exit, trace, stderr) = await LumeAsync("runs", "trace", runId);

        Assert.True(exit == 0, stderr);
        var lines = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith($"Run {runId} of flow1 1: completed, ", lines[0], StringComparison.Ordinal);
        var tasks = lines.Skip(2).Select(l => l.Split(' ', 2)[0]).ToArray();
        Assert.Equal("save_text_file", tasks[^1]);
        Assert.Equal(["append_text", "configure_lume_services"], tasks[..2].Order().ToArray());
        Assert.All(lines.Skip(2), l => Assert.Matches(@"\d+ ms.*\|[ .#]*#[ .#]*\| completed$", l));
    }

    [Theory]
    [InlineData("not-a-guid", "is not a run id")]
    [InlineData("6c3b0000-379a-4af1-7c01-08df4bd06ad9", "is not known to the Scheduler")]
    public async Task RunsShow_OfABadOrUnknownRunId_ExitsTwo(string runId, string expected)
    {
        var (exit, _, stderr) = await LumeAsync("runs", "show", runId);

        Assert.Equal(2, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoWait_WithoutABroker_IsRejected()
    {
        var (exit, _, stderr) = await LumeAsync([.. Flow1, "--no-wait"]);

        Assert.Equal(2, exit);
        Assert.Contains("--no-wait needs the distributed services", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DataDir));
    }

    [Fact]
    public async Task Results_SaveTwice_ListAndShow_WorkOnTheEmbeddedService()
    {
        var file = Path.Combine(Directory.CreateDirectory(_top).FullName, "result.json");
        await File.WriteAllTextAsync(file, """{"project_name": "demo", "flow_id": "flow2", "inputs": {"input1": "é", "x": 1.0}, "outputs": {"output1": "é"}}""");

        var (saveExit, rep, saveErrors) = await LumeAsync("results", "save", file);
        var (_, repAgain, _) = await LumeAsync("results", "save", file);
        var (listExit, listed, _) = await LumeAsync("results", "list", "--project", "demo", "--json");
        var (showExit, shown, _) = await LumeAsync("results", "show", rep.Trim(), "--json");
        var hash = JsonSerializer.Deserialize<JsonElement>(rep).GetProperty("query").GetProperty("unique_hash").GetString()!;
        var (byHashExit, byHash, _) = await LumeAsync("results", "show", hash, "--project", "demo", "--json");

        Assert.True(saveExit == 0, saveErrors);
        Assert.Equal(rep, repAgain);
        Assert.Equal(0, listExit);
        Assert.Single(JsonSerializer.Deserialize<JsonElement>(listed).EnumerateArray());
        Assert.Equal(0, showExit);
        Assert.Equal(0, byHashExit);
        Assert.Equal(shown, byHash);
        var document = JsonSerializer.Deserialize<JsonElement>(shown);
        Assert.Equal("demo", document.GetProperty("collection").GetString());
        Assert.Equal("1.0", document.GetProperty("inputs").GetProperty("x").GetRawText());
    }

    [Theory]
    [InlineData(new[] { "results", "show", "0123", "--project", "demo" }, "UnknownCollection")]
    [InlineData(new[] { "results", "list", "--project", "nowhere" }, "UnknownCollection")]
    [InlineData(new[] { "results", "show", "{\"project_name\": \"x\"}" }, "MalformedResultRep")]
    [InlineData(new[] { "results", "save", "missing.json" }, "missing.json")]
    public async Task Results_BadRequests_ExitTwo_NamingTheError(string[] arguments, string expected)
    {
        var (exit, _, stderr) = await LumeAsync(arguments);

        Assert.Equal(2, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FilesLsAndGet_ShowWhatFlow1Saved()
    {
        var (_, ran, _) = await LumeAsync([.. Flow1, "--json"]);
        var rep = JsonSerializer.Deserialize<JsonElement>(ran).GetProperty("tasks").GetProperty("save_text_file").GetProperty("result").GetRawText();
        var output = Path.Combine(_top, "copy.txt");

        var (lsExit, listed, _) = await LumeAsync("files", "ls", "local", "--json");
        var (getExit, got, _) = await LumeAsync("files", "get", rep);
        var (copyExit, _, _) = await LumeAsync("files", "get", rep, "-o", output);
        var (missingExit, _, missingErrors) = await LumeAsync("files", "ls", "nowhere");

        Assert.Equal(0, lsExit);
        var entry = Assert.Single(JsonSerializer.Deserialize<JsonElement>(listed).EnumerateArray());
        Assert.Equal("hello.txt", entry.GetProperty("path").GetString());
        Assert.Equal(10, entry.GetProperty("size").GetInt64());
        Assert.Equal((0, "HelloWorld"), (getExit, got));
        Assert.Equal(0, copyExit);
        Assert.Equal("HelloWorld", await File.ReadAllTextAsync(output));
        Assert.Equal(2, missingExit);
        Assert.Contains("FilesystemNotConfigured", missingErrors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonLogs_OfARun_CanBeFilteredByRunId_AndCarryTaskSlugAndTraceId()
    {
        var (exit, stdout, stderr) = await LumeWithAsync(
            new() { ["LUME_LOG_FORMAT"] = "json", ["LUME_LOG_LEVEL"] = "Information" }, "run", "failing_flow", "-p", "message=kaboom", "--json");
        var runId = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("run_id").GetString();

        var events = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonSerializer.Deserialize<JsonElement>(l))
            .Where(e => e.TryGetProperty("RunId", out var id) && id.GetString() == runId)
            .ToArray();

        Assert.Equal(1, exit);
        Assert.Contains(events, e => e.GetProperty("@mt").GetString()!.Contains("accepted", StringComparison.Ordinal));
        var failure = Assert.Single(events, e => e.GetProperty("@mt").GetString()!.Contains("failed", StringComparison.Ordinal));
        Assert.Equal("raise_error", failure.GetProperty("TaskSlug").GetString());
        Assert.All(events, e => Assert.Matches("^[0-9a-f]{32}$", e.GetProperty("TraceId").GetString()));
        Assert.Single(events.Select(e => e.GetProperty("TraceId").GetString()).Distinct());
    }

    [Fact]
    public async Task ACleanupAndANoticeOnFailure_RunAfterTheFailure_AndTheRunStillFails()
    {
        var (exit, stdout, stderr) = await LumeAsync("run", "cleanup_after_failure", "-p", "run_name=tuesday", "--json");
        var run = JsonSerializer.Deserialize<JsonElement>(stdout);
        var tasks = run.GetProperty("tasks");

        Assert.True(exit == 1, stderr);
        Assert.Equal("failed", run.GetProperty("state").GetString());
        Assert.Equal("failed", tasks.GetProperty("simulate").GetProperty("state").GetString());
        Assert.Equal(("completed", "scratch space removed"),
            (tasks.GetProperty("cleanup").GetProperty("state").GetString(), tasks.GetProperty("cleanup").GetProperty("result").GetString()));
        Assert.Equal(("completed", "model run failed: tuesday"),
            (tasks.GetProperty("notify").GetProperty("state").GetString(), tasks.GetProperty("notify").GetProperty("result").GetString()));
    }

    [Fact]
    public async Task ABranchOnCheckLocalExecution_Embedded_RunsTheLocalBranch_AndTheMergeTakesItsResult()
    {
        var (exit, stdout, stderr) = await LumeAsync("run", "branch", "-p", "text=model", "--json");
        var tasks = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");

        Assert.True(exit == 0, stderr);
        Assert.True(tasks.GetProperty("check_local_execution").GetProperty("result").GetBoolean());
        Assert.Equal("completed", tasks.GetProperty("keep_local").GetProperty("state").GetString());
        Assert.Equal("skipped", tasks.GetProperty("send_remote").GetProperty("state").GetString());
        Assert.Equal("model kept in this process", tasks.GetProperty("where").GetProperty("result").GetString());
    }

    [Fact]
    public async Task RunTask_PrintsOnlyThatTasksResult_OrUpstreamsErrors()
    {
        var (exit, stdout, stderr) = await LumeAsync("run", "flow3", "-p", "text1=same", "-p", "text2=same", "--task", "check_text_equivalence");
        Assert.True(exit == 0, stderr);
        Assert.Equal("true", stdout.Trim());

        var (notInFlow, notInFlowOut, notInFlowErr) = await LumeAsync("run", "flow3", "-p", "text1=a", "-p", "text2=b", "--task", "nope");
        Assert.Equal((2, ""), (notInFlow, notInFlowOut));
        Assert.Contains("TaskNotInFlow: flow 'flow3' has no task 'nope'; its tasks: check_text_equivalence", notInFlowErr, StringComparison.Ordinal);

        var (notCompleted, notCompletedOut, notCompletedErr) = await LumeAsync("run", "failing_flow", "-p", "message=kaboom", "--task", "append_text");
        Assert.Equal((1, ""), (notCompleted, notCompletedOut));
        Assert.Matches("TaskNotCompleted: task 'append_text' of run [0-9a-f-]{36} is skipped", notCompletedErr);

        var (empty, emptyOut, emptyErr) = await LumeAsync("run", "cleanup_after_failure", "-p", "cleanup_note:=null", "--task", "cleanup");
        Assert.Equal((1, ""), (empty, emptyOut));
        Assert.Contains("EmptyResult: task 'cleanup' of run", emptyErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3 })]
    [InlineData(new[] { 7 })]
    [InlineData(new int[0])]
    public async Task MapSquare_RunsOneSquarePerElement_AndSumsTheirList(int[] values)
    {
        var (exit, stdout, stderr) = await LumeAsync("run", "map_square", "-p", $"values:={JsonSerializer.Serialize(values)}", "--json");
        var tasks = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");

        Assert.True(exit == 0, stderr);
        Assert.Equal(["square", .. values.Select((_, i) => $"square[{i}]"), "sum"], tasks.EnumerateObject().Select(t => t.Name));
        Assert.Equal(values.Select(v => v * v), tasks.GetProperty("square").GetProperty("result").EnumerateArray().Select(r => r.GetInt32()));
        for (var i = 0; i < values.Length; i++)
            Assert.Equal(("completed", values[i] * values[i]),
                (tasks.GetProperty($"square[{i}]").GetProperty("state").GetString(), tasks.GetProperty($"square[{i}]").GetProperty("result").GetInt32()));
        Assert.Equal(values.Sum(v => v * v), tasks.GetProperty("sum").GetProperty("result").GetInt32());
    }

    [Fact]
    public async Task MapSquare_OverTenThousandElements_SumsThemAll_AndOneChildCanBeAskedFor()
    {
        var values = Enumerable.Range(1, 10_000).Select(i => i % 97).ToArray();
        var parameter = $"values:={JsonSerializer.Serialize(values)}";

        var (exit, stdout, stderr) = await LumeAsync("run", "map_square", "-p", parameter, "--task", "sum");
        var (childExit, child, childErr) = await LumeAsync("run", "map_square", "-p", parameter, "--task", "square[9999]");

        Assert.True(exit == 0, stderr);
        Assert.Equal(values.Sum(v => (long)v * v), long.Parse(stdout.Trim(), CultureInfo.InvariantCulture));
        Assert.True(childExit == 0, childErr);
        Assert.Equal(values[9999] * values[9999], int.Parse(child.Trim(), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task MapSquare_OverWhatIsNotAList_FailsNamingTheArgument_AndSkipsTheSum()
    {
        var (exit, stdout, stderr) = await LumeAsync("run", "map_square", "-p", "values=1,2,3", "--json");
        var tasks = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");

        Assert.True(exit == 1, stderr);
        Assert.Equal("failed", tasks.GetProperty("square").GetProperty("state").GetString());
        Assert.Contains("mapped argument 'x' (parameter 'values') is a string, not a list", tasks.GetProperty("square").GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("skipped", tasks.GetProperty("sum").GetProperty("state").GetString());
    }

    [Fact]
    public async Task ASubflow_RunsMapSquareAsAChildRun_AndRunsShowLinksTheTwo()
    {
        int[] values = [2, 5, 9];
        var (exit, stdout, stderr) = await LumeAsync("run", "subflow", "-p", $"values:={JsonSerializer.Serialize(values)}", "--json");
        var parent = JsonSerializer.Deserialize<JsonElement>(stdout);
        var squares = parent.GetProperty("tasks").GetProperty("squares");

        Assert.True(exit == 0, stderr);
        Assert.Equal(values.Sum(v => v * v), squares.GetProperty("result").GetInt32());
        Assert.Equal(values.Sum(v => v * v), parent.GetProperty("tasks").GetProperty("report").GetProperty("result").GetInt32());
        var childId = squares.GetProperty("subflow_run_id").GetString()!;
        var (shown, childJson, showErr) = await LumeAsync("runs", "show", childId, "--json");
        Assert.True(shown == 0, showErr);
        var child = JsonSerializer.Deserialize<JsonElement>(childJson);
        Assert.Equal(("map_square", "completed"), (child.GetProperty("flow").GetString(), child.GetProperty("state").GetString()));
        Assert.Equal((parent.GetProperty("run_id").GetString(), "squares"), (child.GetProperty("parent_run_id").GetString(), child.GetProperty("parent_task").GetString()));
        Assert.Equal(values.Length, child.GetProperty("tasks").EnumerateObject().Count(t => t.Name.StartsWith("square[", StringComparison.Ordinal)));
        var (_, text, _) = await LumeAsync("runs", "show", childId);
        Assert.Contains($"a subflow run of task 'squares' of run {parent.GetProperty("run_id").GetString()}", text.Replace("\n", " ", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    string WriteFile(string name, string text)
    {
        var path = Path.Combine(_top, name);
        Directory.CreateDirectory(_top);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task FlowsRegister_OfAYamlFlow_MakesItRunnable_AndListed()
    {
        var file = WriteFile("greet.yaml", """
            name: greet
            version: "2"
            parameters:
              - name: who
              - name: values
                default: [1, 2, 3]
            tasks:
              - slug: hello
                type: append_text
                inputs:
                  text1: {from: value, value: "Hello, "}
                  text2: {from: parameter, parameter: who}
                upstream: []
              - slug: square
                type: square
                map: [x]
                inputs:
                  x: {from: parameter, parameter: values}
                upstream: []
              - slug: total
                type: sum
                inputs:
                  values: {from: task, task: square}
                upstream: []
            """);

        var (registered, registerOut, registerErr) = await LumeAsync("flows", "register", file);
        var (exit, stdout, stderr) = await LumeAsync("run", "greet", "-p", "who=Ada", "-p", "values:=[2,4]", "--json");
        var (_, flows, _) = await LumeAsync("flows", "--json");

        Assert.True(registered == 0, registerErr);
        Assert.Contains("Registered flow greet version 2 for pool default", registerOut, StringComparison.Ordinal);
        Assert.True(exit == 0, stderr);
        var tasks = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");
        Assert.Equal("Hello, Ada", tasks.GetProperty("hello").GetProperty("result").GetString());
        Assert.Equal(2 * 2 + 4 * 4, tasks.GetProperty("total").GetProperty("result").GetInt32());
        Assert.Contains(JsonSerializer.Deserialize<JsonElement>(flows).EnumerateArray(), f => f.GetProperty("name").GetString() == "greet");
    }

    [Fact]
    public async Task FlowsRegister_OfABrokenFlow_ListsEveryProblem_AndRegistersNothing()
    {
        var file = WriteFile("bad.json", """
            {"name": "bad", "version": "1", "parameters": [], "tasks": [
              {"slug": "one", "type": "no_such_type", "inputs": {"a": {"from": "parameter", "parameter": "nope"}}, "upstream": ["ghost"]},
              {"slug": "two", "type": "subflow", "subflow": {"flow": "map_square", "task": "total"},
               "inputs": {"valuez": {"from": "value", "value": [1]}}, "upstream": []}]}
            """);

        var (exit, stdout, stderr) = await LumeAsync("flows", "register", file);
        var (run, _, runErr) = await LumeAsync("run", "bad");

        Assert.Equal((2, ""), (exit, stdout));
        Assert.Contains("task 'one': unknown task type 'no_such_type'", stderr, StringComparison.Ordinal);
        Assert.Contains("task 'one': argument 'a' refers to parameter 'nope'", stderr, StringComparison.Ordinal);
        Assert.Contains("task 'one': upstream task 'ghost' is not in the flow", stderr, StringComparison.Ordinal);
        Assert.Equal(2, run);
        Assert.Contains("unknown flow", runErr, StringComparison.Ordinal);

        var subflow = WriteFile("sub.json", """
            {"name": "sub", "version": "1", "parameters": [], "tasks": [
              {"slug": "two", "type": "subflow", "subflow": {"flow": "map_square", "task": "total"},
               "inputs": {"valuez": {"from": "value", "value": [1]}}, "upstream": []}]}
            """);
        var (subExit, _, subErr) = await LumeAsync("flows", "register", subflow);
        Assert.Equal(2, subExit);
        Assert.Contains("task 'two': argument 'valuez' is not a parameter of flow 'map_square'", subErr, StringComparison.Ordinal);
        Assert.Contains("task 'two': flow 'map_square' has no task 'total' (TaskNotInFlow)", subErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlowsRegister_OfAFileThatIsNotYaml_NamesTheFileAndLine()
    {
        var file = WriteFile("broken.yaml", "name: broken\ntasks: [oops\n");

        var (exit, _, stderr) = await LumeAsync("flows", "register", file);

        Assert.Equal(2, exit);
        Assert.Contains($"{file}: not YAML, line", stderr, StringComparison.Ordinal);
        Assert.Contains("error: ", (await LumeAsync("flows", "register", Path.Combine(_top, "missing.yaml"))).Stderr, StringComparison.Ordinal);
    }

    static string RepositoryFile(params string[] parts)
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Lume.sln")))
            folder = folder.Parent;
        return Path.Combine([folder!.FullName, .. parts]);
    }

    [Fact]
    public async Task FlowsCompose_OfTextChain_RunsFlow1Flow2AndTheCheck_WithAFileAndADbMapping()
    {
        var (composed, composeOut, composeErr) = await LumeAsync("flows", "compose", RepositoryFile("examples", "flows", "text_chain.yaml"));
        var (exit, stdout, stderr) = await LumeAsync("run", "text_chain", "-p", "flow1-text1=Hello ", "-p", "flow1-text2=chain",
            "-p", "flow1-filename=chain.txt", "-p", "flow1-filesystem_identifier=local", "--json");

        Assert.True(composed == 0, composeErr);
        Assert.Contains("Registered flow text_chain", composeOut, StringComparison.Ordinal);
        Assert.True(exit == 0, stderr);
        var tasks = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");
        Assert.Equal(["flow1", "flow2", "check_result-expected-load", "check_result"], tasks.EnumerateObject().Select(t => t.Name));
        // The stored result's outputs.output1, loaded back: the text flow1 joined and saved, which flow2 read from the file.
        Assert.Equal("Hello chain", tasks.GetProperty("check_result-expected-load").GetProperty("result").GetString());
        Assert.True(tasks.GetProperty("check_result").GetProperty("result").GetProperty("check_text_equivalence").GetBoolean());
        var flow2Run = tasks.GetProperty("flow2").GetProperty("subflow_run_id").GetString()!;
        var (_, flow2Json, _) = await LumeAsync("runs", "show", flow2Run, "--json");
        Assert.Equal("Hello chain", JsonSerializer.Deserialize<JsonElement>(flow2Json).GetProperty("tasks").GetProperty("load_file").GetProperty("result").GetString());
    }

    [Fact]
    public async Task FlowsCompose_OfABadSpec_GivesUpstreamsErrors_ForEveryProblem()
    {
        var file = WriteFile("bad_chain.yaml", """
            name: bad_chain
            project_name: lume
            composing_flows:
              - name: flow1
                project_name: lume
              - name: flow2
                project_name: lume
                mapped_parameters:
                  file_rep:
                    parent_flow_name: flow1
                    parent_task_name: no_such_task
                    map_type: file
                  no_such_parameter:
                    parent_flow_name: flow1
                    parent_task_name: save_text_file
                    map_type: raw
              - name: check_result
                project_name: lume
                mapped_parameters:
                  result_rep:
                    parent_flow_name: flow9
                    parent_task_name: save_db_result
                    map_type: raw
            """);

        var (exit, stdout, stderr) = await LumeAsync("flows", "compose", file);
        var (run, _, _) = await LumeAsync("run", "bad_chain");

        Assert.Equal((2, ""), (exit, stdout));
        Assert.Contains("TaskNotInFlow: flow 'flow2', parameter 'file_rep': task 'no_such_task' is not in flow 'flow1'", stderr, StringComparison.Ordinal);
        Assert.Contains("ParameterNotInFlow: flow 'flow2', parameter 'no_such_parameter'", stderr, StringComparison.Ordinal);
        Assert.Contains("ParentFlowNotInFlows: flow 'check_result', parameter 'result_rep': parent flow 'flow9'", stderr, StringComparison.Ordinal);
        Assert.Equal(2, run); // nothing was registered
    }

    [Fact]
    public async Task AnEmbeddedRunWithATaskThatWaitsForApproval_IsRefusedBeforeItStarts_UnlessTheCommandApprovesIt()
    {
        var (refused, refusedOut, refusedErr) = await LumeAsync("run", "approval", "-p", "value:=9");
        Assert.False(Directory.Exists(DataDir) && Directory.EnumerateFiles(DataDir, "scheduler.db*", SearchOption.AllDirectories).Any(), "a refused run wrote the store");
        var (exit, stdout, stderr) = await LumeAsync("run", "approval", "-p", "value:=9", "--approve", "publish", "--json");

        Assert.Equal((2, ""), (refused, refusedOut));
        Assert.Contains("task 'publish' waits for approval (trigger manual_only)", refusedErr, StringComparison.Ordinal);
        Assert.Contains("add --approve publish", refusedErr, StringComparison.Ordinal);
        Assert.True(exit == 0, stderr);
        var tasks = JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");
        Assert.Equal(("completed", 10), (tasks.GetProperty("publish").GetProperty("state").GetString(), tasks.GetProperty("publish").GetProperty("result").GetInt32()));
    }

    [Fact]
    public async Task RunsApprove_Embedded_SaysItNeedsTheBroker()
    {
        var (exit, stdout, stderr) = await LumeAsync("runs", "approve", Guid.NewGuid().ToString(), "publish");

        Assert.Equal((2, ""), (exit, stdout));
        Assert.Contains("lume runs approve needs the distributed services (set LUME_BROKER)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACachedTask_IsCachedOnTheSecondRun_InANewProcess_AndNoCacheRunsItAgain()
    {
        async Task<JsonElement> RunAsync(params string[] more)
        {
            var (exit, stdout, stderr) = await LumeAsync(["run", "cached_step", "-p", "value:=5", "--json", .. more]);
            Assert.True(exit == 0, stderr);
            return JsonSerializer.Deserialize<JsonElement>(stdout).GetProperty("tasks");
        }

        var first = await RunAsync();
        var second = await RunAsync();
        var fresh = await RunAsync("--no-cache");

        Assert.Equal(("completed", 6), (first.GetProperty("expensive").GetProperty("state").GetString(), first.GetProperty("expensive").GetProperty("result").GetInt32()));
        Assert.Equal(("cached", 6), (second.GetProperty("expensive").GetProperty("state").GetString(), second.GetProperty("expensive").GetProperty("result").GetInt32()));
        Assert.Equal(6, second.GetProperty("report").GetProperty("result").GetInt32());
        Assert.Equal("completed", fresh.GetProperty("expensive").GetProperty("state").GetString());
        var other = await LumeAsync("run", "cached_step", "-p", "value:=7", "--json");
        Assert.Equal("completed", JsonSerializer.Deserialize<JsonElement>(other.Stdout).GetProperty("tasks").GetProperty("expensive").GetProperty("state").GetString());
    }

    [Fact]
    public async Task FailingRun_ExitsOne_NamingTheTaskAndItsError()
    {
        var (exit, stdout, _) = await LumeAsync("run", "failing_flow", "-p", "message=kaboom");

        Assert.Equal(1, exit);
        Assert.Contains("task 'raise_error' failed", stdout, StringComparison.Ordinal);
        Assert.Contains("kaboom", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "run", "flow1", "-p", "text1=a" }, new[] { "parameter 'text2': missing", "parameter 'filename': missing", "parameter 'filesystem_identifier': missing" })]
    [InlineData(new[] { "run", "flow3", "-p", "text1=a", "-p", "text2=b", "-p", "text9=c" }, new[] { "parameter 'text9': not declared by flow 'flow3'" })]
    [InlineData(new[] { "run", "flow3", "-p", "text1=a", "-p", "text2:={oops" }, new[] { "parameter 'text2': the value is not JSON" })]
    [InlineData(new[] { "run", "flow9" }, new[] { "flow 'flow9': unknown flow" })]
    public async Task RejectedRequest_ExitsTwo_ListingEveryProblem_AndWritesNothing(string[] arguments, string[] problems)
    {
        var (exit, stdout, stderr) = await LumeAsync(arguments);

        Assert.Equal(2, exit);
        foreach (var problem in problems)
            Assert.Contains(problem, stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(DataDir), "a rejected request created the data folder");
    }

    [Fact]
    public async Task InvalidSetting_ExitsThree_NamingTheVariable_WithoutAStackTrace()
    {
        var (exit, _, stderr) = await LumeWithAsync(new() { ["LUME_WORKER__CONCURRENCY"] = "0" }, "run", "flow3", "-p", "text1=a", "-p", "text2=a");

        Assert.Equal(3, exit);
        Assert.Contains("LUME_WORKER__CONCURRENCY must be between 1 and 1024", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownOption_IsRejected() =>
        Assert.Equal(2, (await LumeAsync("run", "flow3", "--frobnicate")).ExitCode);

    [Fact]
    public async Task Flows_ListsTheExamplesWithTheirParameters()
    {
        var (exit, stdout, _) = await LumeAsync("flows", "--json");

        Assert.Equal(0, exit);
        var flows = JsonSerializer.Deserialize<JsonElement>(stdout).EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(["text1", "text2", "filename", "filesystem_identifier"],
            flows["flow1"].GetProperty("parameters").EnumerateArray().Select(p => p.GetString()!).ToArray());
        Assert.Contains("flow3", flows.Keys);
        Assert.Contains("failing_flow", flows.Keys);
        Assert.Equal(501, flows["fanout_500"].GetProperty("tasks").GetArrayLength()); // --json keeps every task
    }

    [Fact]
    public async Task Flows_SummarisesAWideFlow_InItsTable()
    {
        var (exit, stdout, _) = await LumeAsync("flows");

        Assert.Equal(0, exit);
        Assert.Contains("493", stdout, StringComparison.Ordinal); // "… and 493 more (501 in all; --json lists them)", as the table wraps it
        Assert.DoesNotContain("item-250", stdout, StringComparison.Ordinal);
        Assert.True(stdout.Split('\n').Length < 150, $"{stdout.Split('\n').Length} lines");
    }

    [Fact]
    public async Task SchedulerDbRemovedDuringARun_StopsLume_WithExit3_NamingTheFile_AndNoStackTrace()
    {
        var (process, stdout, stderr) = Launch("run", "slow_save", "-p", "text=kept?", "-p", "filename=removed.txt", "-p", "seconds:=3");
        using (process)
        {
            var deadline = DateTime.UtcNow.AddSeconds(40);
            while (!stdout.ToString().Contains("slow_save_text started", StringComparison.Ordinal) && DateTime.UtcNow < deadline && !process.HasExited)
                await Task.Delay(100);
            Assert.True(stdout.ToString().Contains("slow_save_text started", StringComparison.Ordinal), $"{stdout}\n{stderr}");

            File.Delete(Path.Combine(DataDir, "scheduler.db"));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            await process.WaitForExitAsync(timeout.Token);

            var output = $"{stdout}\n{stderr}";
            Assert.True(process.ExitCode == 3, $"exit {process.ExitCode}: {output}");
            Assert.Contains("scheduler.db was removed while Lume was using it", stderr.ToString(), StringComparison.Ordinal);
            Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", output);
            // Lume never recreates the store behind the user's back: the file stays gone until they restore it or start again.
            Assert.False(File.Exists(Path.Combine(DataDir, "scheduler.db")));
        }
    }
}
