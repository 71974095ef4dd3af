using Lume.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>A flow the Scheduler serves, and the worker pool whose queue its tasks go to.</summary>
public sealed record RegisteredFlow(FlowDefinition Flow, string Pool, DateTimeOffset RegisteredAt);

/// <summary>Where the Scheduler keeps the flows workers registered, so a restarted Scheduler still serves them.</summary>
public interface IFlowStore
{
    /// <summary>Stores the flow, replacing a stored one of the same name and version.</summary>
    Task SaveFlowAsync(RegisteredFlow flow, CancellationToken cancellationToken);

    /// <summary>Every stored version of every flow.</summary>
    Task<IReadOnlyList<RegisteredFlow>> ListFlowsAsync(CancellationToken cancellationToken);

    /// <summary>Keeps the task types the workers of a pool offer, as the latest of them registered them.</summary>
    Task SaveTaskTypesAsync(string pool, IReadOnlyCollection<string> taskTypes, CancellationToken cancellationToken);

    /// <summary>The task types a pool's workers offer, or null when no worker of the pool ever registered.</summary>
    Task<IReadOnlySet<string>?> TaskTypesAsync(string pool, CancellationToken cancellationToken);
}
