using Lume.Examples;
using Lume.FileService;
using Lume.Hosting;
using Lume.Scheduler;
using Lume.TaskWorker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Lume.Cli;

/// <summary>All four services in one process on the in-memory transport: what <c>lume run</c> uses when no broker is configured.</summary>
public static class EmbeddedLume
{
    /// <summary>
    /// The embedded host, not yet started. Building it touches nothing on disk; the stores are created when it starts.
    /// <paramref name="configure"/> may add flows and tasks (tests do) before the bus is added.
    /// </summary>
    public static IHost Build(IDictionary<string, string?>? settings = null, Action<IHostApplicationBuilder>? configure = null)
    {
        // No appsettings files or their watchers: everything comes from LUME_* variables, and start-up stays quick.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        // Services log at Information by default; in a terminal command only warnings are worth showing.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["LOG_LEVEL"] = "Warning" });
        builder.Configuration.AddEnvironmentVariables();
        builder.AddLumeDefaults("lume-cli", logToStandardError: true);
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);
        builder.AddLumeScheduler();
        builder.AddLumeTaskWorker();
        builder.AddLumeFileService();
        builder.AddLumeExamples();
        configure?.Invoke(builder);
        builder.AddLumeBus();
        return builder.Build();
    }
}
