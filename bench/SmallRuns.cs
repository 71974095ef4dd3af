using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Lume.Contracts;
using MassTransit;

namespace Lume.Bench;

/// <summary>
/// Many small runs at once, as a client that submits a batch of work would: every RunRequested published together,
/// and one listener for their ends (not one per run, which would make the broker copy every end to every listener).
/// </summary>
static class SmallRuns
{
    /// <summary>Runs per second from the first request to the last end, and each run's time from its request to its end, in ms.</summary>
    public static async Task<(double RunsPerSecond, IReadOnlyList<double> LatenciesMs)> MeasureAsync(IBus bus, string flow, int count)
    {
        var clock = Stopwatch.StartNew();
        var ended = new ConcurrentDictionary<Guid, double>();
        var failures = new ConcurrentBag<string>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requested = new ConcurrentDictionary<Guid, double>();
        void End(Guid runId, string? failure)
        {
            if (!requested.ContainsKey(runId) || !ended.TryAdd(runId, clock.Elapsed.TotalMilliseconds))
                return;
            if (failure is not null)
                failures.Add(failure);
            if (ended.Count == count)
                all.TrySetResult();
        }

        var ids = Enumerable.Range(0, count).Select(_ => NewId.NextGuid()).ToArray();
        foreach (var id in ids)
            requested[id] = 0;
        var handle = bus.ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), KebabCaseEndpointNameFormatter.Instance, e =>
        {
            e.Handler<RunCompleted>(c => { End(c.Message.RunId, null); return Task.CompletedTask; });
            e.Handler<RunFailed>(c => { End(c.Message.RunId, c.Message.Message); return Task.CompletedTask; });
            e.Handler<RunCancelled>(c => { End(c.Message.RunId, c.Message.Reason); return Task.CompletedTask; });
        });
        await handle.Ready;
        try
        {
            var parameters = new Dictionary<string, JsonElement>();
            var sends = new List<Task>(count);
            foreach (var id in ids)
            {
                requested[id] = clock.Elapsed.TotalMilliseconds;
                sends.Add(bus.Publish(new RunRequested(id, flow, null, parameters, TimeProvider.System.GetUtcNow())));
            }

            await Task.WhenAll(sends);
            await all.Task.WaitAsync(TimeSpan.FromMinutes(10));
        }
        finally
        {
            await handle.StopAsync();
        }

        if (!failures.IsEmpty)
            throw new InvalidOperationException($"{failures.Count} of {count} runs did not complete: {failures.First()}");
        var first = requested.Values.Min();
        var last = ended.Values.Max();
        return (count / ((last - first) / 1000), ids.Select(id => ended[id] - requested[id]).ToArray());
    }
}
