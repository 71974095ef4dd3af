using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Lume.Web.Tests;

/// <summary>Calls the API as a script would, and reads its JSON.</summary>
static class Api
{
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The problem+json body of a response, checked to be one with <paramref name="expected"/>.</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var problem = await response.JsonAsync(expected);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        return problem;
    }

    /// <summary>The messages a validation problem has for <paramref name="field"/>; fails when it names no such field.</summary>
    public static string[] ErrorsFor(this JsonElement problem, string field)
    {
        var messages = default(JsonElement);
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out messages),
            $"the problem names no field '{field}': {problem}");
        return messages.EnumerateArray().Select(m => m.GetString()!).ToArray();
    }

    /// <summary>Starts a run through the API; returns its id.</summary>
    public static async Task<Guid> StartRunAsync(this HttpClient client, string flow, object parameters)
    {
        var response = await client.PostAsJsonAsync("/api/runs", new { flow, parameters });
        var started = await response.JsonAsync(HttpStatusCode.Accepted);
        var runId = started.GetProperty("runId").GetGuid();
        Assert.Equal($"/api/runs/{runId}", response.Headers.Location?.OriginalString);
        return runId;
    }

    /// <summary>Reads the run until <paramref name="until"/> holds (by default: it has ended), or fails after a minute.</summary>
    public static async Task<JsonElement> WaitForRunAsync(this HttpClient client, Guid runId, Func<JsonElement, bool>? until = null)
    {
        until ??= run => run.GetProperty("state").GetString() != "running";
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var run = await (await client.GetAsync($"/api/runs/{runId}")).JsonAsync(HttpStatusCode.OK);
            if (until(run))
                return run;
            Assert.True(DateTime.UtcNow < deadline, $"run {runId} did not get there in a minute: {run}");
            await System.Threading.Tasks.Task.Delay(100);
        }
    }

    public static JsonElement TaskOf(this JsonElement run, string slug) =>
        run.GetProperty("tasks").EnumerateArray().Single(t => t.GetProperty("slug").GetString() == slug);

    /// <summary>Opens a server-sent events stream (headers read, body not yet).</summary>
    public static Task<HttpResponseMessage> OpenStreamAsync(this HttpClient client, string path, CancellationToken cancellationToken) =>
        client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    /// <summary>The events of an open stream, one (name, data) each, read by .NET's own parser as a browser reads them; comments are left out.</summary>
    public static async IAsyncEnumerable<(string Event, JsonElement Data)> EventsAsync(this HttpResponseMessage response,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync(cancellationToken))
            yield return (item.EventType, JsonDocument.Parse(item.Data).RootElement.Clone());
    }
}
