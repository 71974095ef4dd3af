using Lume.Flows;
using Lume.Scheduler.Runs;

namespace Lume.Scheduler.Flows;

/// <summary>
/// The flows the Scheduler serves, as workers registered them. A flow belongs to the pool that registered it:
/// its tasks go to that pool's queue, whose workers offer every task type the flow uses. Another pool may take
/// a flow over only while no worker of its first pool is alive.
/// </summary>
public sealed class FlowRegistry(IFlowStore store, WorkerDirectory workers, TimeProvider time)
{
    readonly SemaphoreSlim _gate = new(1, 1);

    // Read without a lock by every run request; a registration builds a new one and swaps it in whole.
    volatile Snapshot? _snapshot;

    sealed record Snapshot(IReadOnlyDictionary<(string Name, string Version), RegisteredFlow> Flows, FlowCatalog Catalog);

    /// <summary>Checks and stores the flows of a worker; returns every problem, naming the flow.</summary>
    public async Task<IReadOnlyList<string>> RegisterAsync(
        string pool, IReadOnlySet<string> taskTypes, IEnumerable<FlowDefinition> flows, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var known = new Dictionary<(string Name, string Version), RegisteredFlow>((_snapshot ?? await ReadStoreAsync(cancellationToken)).Flows);
            var problems = new List<string>();
            foreach (var flow in flows)
            {
                var graph = FlowChecks.CheckGraph(flow, taskTypes);
                if (graph.Count > 0)
                {
                    problems.AddRange(graph);
                    continue;
                }

                if (known.TryGetValue((flow.Name, flow.Version), out var existing) && existing.Pool != pool
                    && workers.IsAlive(existing.Pool, time.GetUtcNow()))
                {
                    problems.Add($"flow '{flow.Name}' version '{flow.Version}' is already served by worker pool '{existing.Pool}'; " +
                        "give it another name or version, or run it in that pool");
                    continue;
                }

                var registered = new RegisteredFlow(flow, pool, time.GetUtcNow());
                await store.SaveFlowAsync(registered, cancellationToken);
                // A flow registered again unchanged keeps its definition, so the runs of it go on sharing one graph.
                known[(flow.Name, flow.Version)] = existing is not null && FlowJson.Write(existing.Flow) == FlowJson.Write(flow)
                    ? registered with { Flow = existing.Flow }
                    : registered;
            }

            _snapshot = new Snapshot(known, new FlowCatalog(known.Values.Select(f => f.Flow)));
            return problems;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Finds a flow (a null version means the newest); a problem names the flow when there is none.</summary>
    public async Task<(RegisteredFlow? Flow, string? Problem)> FindAsync(string name, string? version, CancellationToken cancellationToken)
    {
        var snapshot = await LoadAsync(cancellationToken);
        var (flow, problem) = snapshot.Catalog.Find(name, version);
        return flow is null ? (null, problem) : (snapshot.Flows[(flow.Name, flow.Version)], null);
    }

    /// <summary>Every served flow, every version.</summary>
    public async Task<IReadOnlyList<RegisteredFlow>> ListAsync(CancellationToken cancellationToken) =>
        (await LoadAsync(cancellationToken)).Flows.Values
            .OrderBy(f => f.Flow.Name, StringComparer.Ordinal).ThenBy(f => f.Flow.Version, StringComparer.Ordinal).ToArray();

    /// <summary>The newest version of every served flow.</summary>
    public async Task<IReadOnlyList<RegisteredFlow>> LatestAsync(CancellationToken cancellationToken)
    {
        var snapshot = await LoadAsync(cancellationToken);
        return snapshot.Catalog.Latest.Select(f => snapshot.Flows[(f.Name, f.Version)]).ToArray();
    }

    // The store is read once; from then on registrations through this instance keep the snapshot current.
    async Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        if (_snapshot is { } snapshot)
            return snapshot;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return _snapshot ??= await ReadStoreAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    async Task<Snapshot> ReadStoreAsync(CancellationToken cancellationToken)
    {
        var flows = (await store.ListFlowsAsync(cancellationToken)).ToDictionary(f => (f.Flow.Name, f.Flow.Version));
        return new Snapshot(flows, new FlowCatalog(flows.Values.Select(f => f.Flow)));
    }
}
