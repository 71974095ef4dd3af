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
}
