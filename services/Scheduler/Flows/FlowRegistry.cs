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

    /// <summary>Checks and stores the flows of a worker, and the task types its pool offers; returns every problem, naming the flow.</summary>
    public async Task<IReadOnlyList<string>> RegisterWorkerAsync(
        string pool, IReadOnlySet<string> taskTypes, IEnumerable<FlowDefinition> flows, CancellationToken cancellationToken)
    {
        await store.SaveTaskTypesAsync(pool, taskTypes, cancellationToken);
        return await RegisterAsync(pool, taskTypes, flows, cancellationToken);
    }

    /// <summary>
    /// Checks a flow from a file against what the pool's workers offer (every task type, every subflow registered, every
    /// argument of a subflow one of its parameters and every required one given), and stores it; returns every problem.
    /// </summary>
    public async Task<IReadOnlyList<string>> RegisterFileFlowAsync(string pool, FlowDefinition flow, CancellationToken cancellationToken)
    {
        if (await store.TaskTypesAsync(pool, cancellationToken) is not { } taskTypes)
            return [$"flow '{flow.Name}': no worker of pool '{pool}' has registered yet, so its task types are not known; start one, then register again"];
        var problems = FlowChecks.CheckGraph(flow, taskTypes).ToList();
        foreach (var task in flow.Tasks.Where(t => t.Subflow is not null))
        {
            var at = $"flow '{flow.Name}', task '{task.Slug}'";
            var (child, unknown) = await FindAsync(task.Subflow!.Flow, task.Subflow.Version, cancellationToken);
            if (child is null)
            {
                problems.Add($"{at}: subflow: {unknown}");
                continue;
            }

            var declared = child.Flow.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var argument in task.Inputs.Keys.Where(a => !declared.Contains(a)))
                problems.Add($"{at}: argument '{argument}' is not a parameter of flow '{child.Flow.Name}' ({FlowChecks.DescribeParameters(child.Flow)})");
            foreach (var missing in child.Flow.Parameters.Where(p => p.Default is null && !task.Inputs.ContainsKey(p.Name)))
                problems.Add($"{at}: flow '{child.Flow.Name}' requires parameter '{missing.Name}', which the task does not pass");
            foreach (var result in (task.Subflow.Tasks ?? []).Append(task.Subflow.Task).OfType<string>().Where(r => child.Flow.FindTask(r) is null))
                problems.Add($"{at}: flow '{child.Flow.Name}' has no task '{result}' (TaskNotInFlow); its tasks: {NameList.Of(child.Flow.Tasks.Select(t => t.Slug))}");
        }

        return problems.Count > 0 ? problems : await RegisterAsync(pool, taskTypes, [flow], cancellationToken);
    }

    async Task<IReadOnlyList<string>> RegisterAsync(
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
                known[(flow.Name, flow.Version)] = existing is not null && FlowJson.Measure(existing.Flow).Digest.Span.SequenceEqual(FlowJson.Measure(flow).Digest.Span)
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
