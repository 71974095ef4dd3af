using System.Net;
using System.Text.Json;

namespace Lume.Web.Tests;

/// <summary>The server-sent event streams: every run's events, and one run's snapshot, updates and end.</summary>
[Collection(ApiCollection.Name)]
public sealed class EventStreamTests(ApiHostFixture fixture)
{
    readonly HttpClient _client = fixture.Host.Client;

    static CancellationTokenSource AMinute() => new(TimeSpan.FromSeconds(60));

    [Fact]
    public async Task AllRuns_HearsARunAcceptedThenCompleted()
    {
        using var timeout = AMinute();
        using var stream = await _client.OpenStreamAsync("/api/events", timeout.Token);
        var events = stream.EventsAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        var runId = await _client.StartRunAsync("flow1", new { text1 = "a", text2 = "b", filename = $"{Guid.NewGuid():N}.txt", filesystem_identifier = "local" });

        var heard = new List<string>();
        while (!heard.Contains("completed") && await events.MoveNextAsync())
        {
            var (name, data) = events.Current;
            Assert.Equal("run", name);
            if (data.GetProperty("runId").GetGuid() != runId)
                continue;
            Assert.Equal("flow1", data.GetProperty("flow").GetString());
            Assert.True(data.TryGetProperty("at", out _));
            heard.Add(data.GetProperty("event").GetString()!);
        }

        Assert.Equal(["accepted", "completed"], heard.Where(e => e != "progressed"));
        await events.DisposeAsync();
    }

    [Fact]
    public async Task OneRun_ThatWaitsForApproval_IsASnapshot_ThenUpdatesOfWhatChanged_ThenTheEnd()
    {
        using var timeout = AMinute();
        var runId = await _client.StartRunAsync("approval", new { });
        await _client.WaitForRunAsync(runId, r => r.TaskOf("publish").GetProperty("state").GetString() == "paused");
        using var stream = await _client.OpenStreamAsync($"/api/runs/{runId}/events", timeout.Token);
        var events = stream.EventsAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await events.MoveNextAsync());
        var (first, snapshot) = events.Current;
        Assert.Equal("snapshot", first);
        Assert.Equal(runId, snapshot.GetProperty("runId").GetGuid());
        Assert.Equal("running", snapshot.GetProperty("state").GetString());
        Assert.Equal(2, snapshot.GetProperty("tasks").GetArrayLength());

        (await _client.PostAsync($"/api/runs/{runId}/tasks/publish/approve", null)).EnsureSuccessStatusCode();

        var updates = new List<JsonElement>();
        while (await events.MoveNextAsync() && events.Current.Event == "update")
            updates.Add(events.Current.Data);
        Assert.Equal("end", events.Current.Event);
        Assert.False(await events.MoveNextAsync(), "the stream goes on after its end");
        Assert.NotEmpty(updates);
        // Only the task that changed is sent again; prepare had completed before the stream began.
        Assert.All(updates.SelectMany(u => u.GetProperty("tasks").EnumerateArray()), t => Assert.Equal("publish", t.GetProperty("slug").GetString()));
        var last = updates[^1];
        Assert.Equal("completed", last.GetProperty("run").GetProperty("state").GetString());
        Assert.Equal(2, last.GetProperty("run").GetProperty("taskCount").GetInt32());
        Assert.Equal(42, updates.SelectMany(u => u.GetProperty("tasks").EnumerateArray()).Last().GetProperty("result").GetInt32());
    }

    [Fact]
    public async Task OneRun_WatchedTwice_AsByTwoTabs_EndsInBoth()
    {
        using var timeout = AMinute();
        var runId = await _client.StartRunAsync("approval", new { });
        await _client.WaitForRunAsync(runId, r => r.TaskOf("publish").GetProperty("state").GetString() == "paused");
        using var first = await _client.OpenStreamAsync($"/api/runs/{runId}/events", timeout.Token);
        using var second = await _client.OpenStreamAsync($"/api/runs/{runId}/events", timeout.Token);
        var streams = new[] { first.EventsAsync(timeout.Token).GetAsyncEnumerator(timeout.Token), second.EventsAsync(timeout.Token).GetAsyncEnumerator(timeout.Token) };
        foreach (var events in streams)
        {
            Assert.True(await events.MoveNextAsync());
            Assert.Equal("snapshot", events.Current.Event);
        }

        (await _client.PostAsync($"/api/runs/{runId}/tasks/publish/approve", null)).EnsureSuccessStatusCode();

        foreach (var events in streams)
        {
            var names = new List<string>();
            while (await events.MoveNextAsync())
                names.Add(events.Current.Event);
            Assert.Equal("end", names[^1]);
            Assert.Contains("update", names);
        }
    }

    [Fact]
    public async Task OneRun_ThatHasEnded_IsItsSnapshot_ThenTheEnd()
    {
        using var timeout = AMinute();
        var runId = await _client.StartRunAsync("flow1", new { text1 = "a", text2 = "b", filename = $"{Guid.NewGuid():N}.txt", filesystem_identifier = "local" });
        var stored = await _client.WaitForRunAsync(runId);
        using var stream = await _client.OpenStreamAsync($"/api/runs/{runId}/events", timeout.Token);

        var events = new List<(string Event, JsonElement Data)>();
        await foreach (var e in stream.EventsAsync(timeout.Token))
            events.Add(e);

        Assert.Equal(["snapshot", "end"], events.Select(e => e.Event));
        Assert.Equal(stored.GetRawText(), events[0].Data.GetRawText());
    }

    [Fact]
    public async Task OneRun_ThatRunsLong_IsUpdatedWhileItRuns_AndEndsWhenCancelled()
    {
        using var timeout = AMinute();
        var runId = await _client.StartRunAsync("chaos_slow", new { });
        using var stream = await _client.OpenStreamAsync($"/api/runs/{runId}/events", timeout.Token);
        var events = stream.EventsAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal("snapshot", events.Current.Event);

        Assert.True(await events.MoveNextAsync());
        Assert.Equal("update", events.Current.Event);
        Assert.Equal("running", events.Current.Data.GetProperty("run").GetProperty("state").GetString());
        Assert.NotEmpty(events.Current.Data.GetProperty("tasks").EnumerateArray());

        (await _client.PostAsync($"/api/runs/{runId}/cancel", null)).EnsureSuccessStatusCode();
        JsonElement last = default;
        while (await events.MoveNextAsync() && events.Current.Event == "update")
            last = events.Current.Data;
        Assert.Equal("end", events.Current.Event);
        Assert.Equal("cancelled", last.GetProperty("run").GetProperty("state").GetString());
    }

    [Fact]
    public async Task OneRun_ThatIsUnknown_Is404_NotAStream()
    {
        var runId = Guid.NewGuid();

        var problem = await (await _client.GetAsync($"/api/runs/{runId}/events")).ProblemAsync(HttpStatusCode.NotFound);

        Assert.Contains(runId.ToString(), problem.GetProperty("detail").GetString());
    }
}
