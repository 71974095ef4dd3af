using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Lume.Scheduler;

/// <summary>The Scheduler's settings, from <c>LUME_SCHEDULER__*</c>.</summary>
public sealed class SchedulerOptions
{
    /// <summary>
    /// <c>LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS</c>: a pool with no heartbeat for this long counts as gone, and runs of its
    /// flows are rejected instead of waiting for a worker that may never come. Default 30.
    /// </summary>
    [Range(1, 86400, ErrorMessage = "LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS must be between {1} and {2}")]
    [ConfigurationKeyName("WORKER_TIMEOUT_SECONDS")]
    public int WorkerTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// <c>LUME_SCHEDULER__LEASE_SECONDS</c>: how long the active Scheduler's lease on its store lasts without renewal; a standby
    /// Scheduler on the same store takes over within this time of the active one's death. Default 15.
    /// </summary>
    [Range(3, 3600, ErrorMessage = "LUME_SCHEDULER__LEASE_SECONDS must be between {1} and {2}")]
    [ConfigurationKeyName("LEASE_SECONDS")]
    public int LeaseSeconds { get; set; } = 15;
}
