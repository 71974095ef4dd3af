using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Lume.Worker;

/// <summary>The TaskWorker's settings, from <c>LUME_WORKER__*</c>.</summary>
public sealed class WorkerOptions
{
    /// <summary><c>LUME_WORKER__NAME</c>: how this worker names itself in task events. Default: host name and process id.</summary>
    [Required(ErrorMessage = "LUME_WORKER__NAME must not be empty")]
    [ConfigurationKeyName("NAME")]
    public string Name { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary><c>LUME_WORKER__CONCURRENCY</c>: how many tasks this worker runs at once. Default: twice the processor count.</summary>
    [Range(1, 1024, ErrorMessage = "LUME_WORKER__CONCURRENCY must be between {1} and {2}")]
    [ConfigurationKeyName("CONCURRENCY")]
    public int Concurrency { get; set; } = Environment.ProcessorCount * 2;

    /// <summary>
    /// <c>LUME_WORKER__POOL</c>: the pool this worker serves. Workers of one pool run the same program and compete on one
    /// queue (<c>lume-tasks</c> for the default pool, <c>lume-tasks-{pool}</c> otherwise); the flows a host defines run in its pool.
    /// </summary>
    [Required(ErrorMessage = "LUME_WORKER__POOL must not be empty")]
    [RegularExpression("^[a-z0-9][a-z0-9-]*$", ErrorMessage = "LUME_WORKER__POOL may hold lower-case letters, digits and dashes only")]
    [ConfigurationKeyName("POOL")]
    public string Pool { get; set; } = "default";

    /// <summary>
    /// <c>LUME_WORKER__REPORT_STARTED_AFTER_MS</c>: a task still running after this long is reported as started
    /// (TaskStarted: the run shows it running, on this worker). A quicker task reports only its end, which spares a
    /// message per task; Celery does the same by default. 0 reports every task before it runs. Default 250.
    /// </summary>
    [Range(0, 3_600_000, ErrorMessage = "LUME_WORKER__REPORT_STARTED_AFTER_MS must be between {1} and {2}")]
    [ConfigurationKeyName("REPORT_STARTED_AFTER_MS")]
    public int ReportStartedAfterMs { get; set; } = 250;

    /// <summary><c>LUME_WORKER__HEARTBEAT_SECONDS</c>: how often the worker tells the Scheduler it is alive. Default 5.</summary>
    [Range(1, 3600, ErrorMessage = "LUME_WORKER__HEARTBEAT_SECONDS must be between {1} and {2}")]
    [ConfigurationKeyName("HEARTBEAT_SECONDS")]
    public int HeartbeatSeconds { get; set; } = 5;

    /// <summary>
    /// <c>LUME_WORKER__UNHEALTHY_EXIT_SECONDS</c>: a worker whose task consumer has been unhealthy, or whose heartbeats have
    /// failed, for this long stops with exit code 1 for its supervisor to restart it. Default 60.
    /// </summary>
    [Range(5, 86400, ErrorMessage = "LUME_WORKER__UNHEALTHY_EXIT_SECONDS must be between {1} and {2}")]
    [ConfigurationKeyName("UNHEALTHY_EXIT_SECONDS")]
    public int UnhealthyExitSeconds { get; set; } = 60;
}
