using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Lume.TaskWorker;

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
}
