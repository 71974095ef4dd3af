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
    Dictionary<(string Name, string Version), RegisteredFlow>? _flows;
    FlowCatalog _catalog = new([]);

    /// <summary>Checks and stores the flows of a worker; returns every problem, naming the flow.</summary>
    public async Task<IReadOnlyList<string>> RegisterAsync(
        string pool, IReadOnlySet<string> taskTypes, IEnumerable<FlowDefinition> flows, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var known = await LoadAsync(cancellationToken);
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
                known[(flow.Name, flow.Version)] = registered;
            }

            _catalog = new FlowCatalog(known.Values.Select(f => f.Flow));
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
        var flows = await LoadAsync(cancellationToken);
        var (flow, problem) = _catalog.Find(name, version);
        return flow is null ? (null, problem) : (flows[(flow.Name, flow.Version)], null);
    }

    /// <summary>Every served flow, every version.</summary>
    public async Task<IReadOnlyList<RegisteredFlow>> ListAsync(CancellationToken cancellationToken) =>
        (await LoadAsync(cancellationToken)).Values.OrderBy(f => f.Flow.Name, StringComparer.Ordinal).ThenBy(f => f.Flow.Version, StringComparer.Ordinal).ToArray();

    /// <summary>The newest version of every served flow.</summary>
    public async Task<IReadOnlyList<RegisteredFlow>> LatestAsync(CancellationToken cancellationToken)
    {
        var flows = await LoadAsync(cancellationToken);
        return _catalog.Latest.Select(f => flows[(f.Name, f.Version)]).ToArray();
    }

    // The store is read once; from then on registrations through this instance keep the cache current.
    async Task<Dictionary<(string, string), RegisteredFlow>> LoadAsync(CancellationToken cancellationToken)
    {
        if (_flows is not null)
            return _flows;
        var stored = await store.ListFlowsAsync(cancellationToken);
        _catalog = new FlowCatalog(stored.Select(f => f.Flow));
        return _flows = stored.ToDictionary(f => (f.Flow.Name, f.Flow.Version));
    }
}
