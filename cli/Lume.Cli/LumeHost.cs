using Lume.Examples;
using Lume.FileService;
using Lume.Flows;
using Lume.Hosting;
using Lume.Results;
using Lume.Scheduler;
using Lume.Worker;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.Cli;

/// <summary>
/// The host a command talks through. Without <c>LUME_BROKER</c> it is embedded: every service in this process on
/// the in-memory transport. With a broker it is a pure client of the services running elsewhere.
/// </summary>
public sealed class LumeHost : IDisposable
{
    LumeHost(IHost host, bool embedded)
    {
        Host = host;
        IsEmbedded = embedded;
    }

    public IHost Host { get; }

    /// <summary>Whether the services run inside this process.</summary>
    public bool IsEmbedded { get; }

    /// <summary>The flows this process defines (embedded mode): what its worker registers with its Scheduler.</summary>
    public FlowCatalog LocalFlows
    {
        get
        {
            var code = Host.Services.GetServices<FlowDefinition>().ToArray();
            var defined = code.Select(f => (f.Name, f.Version)).ToHashSet();
            return new(code.Concat(RegisteredFromFiles().Where(f => !defined.Contains((f.Name, f.Version)))));
        }
    }

    // Flows registered from files (lume flows register) live in the embedded Scheduler's store; read without opening it
    // for writing, so that a request refused before the run starts writes nothing, and nothing when there is no store yet.
    IEnumerable<FlowDefinition> RegisteredFromFiles()
    {
        if (!IsEmbedded)
            return [];
        var path = Path.Combine(Host.Services.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "scheduler.db");
        if (!File.Exists(path))
            return [];
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Mode=ReadOnly");
        connection.Open();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT definition FROM flows";
        using var reader = select.ExecuteReader();
        var flows = new List<FlowDefinition>();
        while (reader.Read())
            flows.Add(FlowJson.Parse(reader.GetString(0)));
        return flows;
    }

    /// <summary>The host's client: it hears the runs it waits for on the host's one queue of run events (<see cref="RunEvents"/>).</summary>
    public RunClient Client => LazyInitializer.EnsureInitialized(ref _client, () => new(Host.Services.GetRequiredService<IBus>(),
        Host.Services.GetRequiredService<IClientFactory>(), Host.Services.GetRequiredService<RunEvents>(), TimeProvider.System,
        Host.Services.GetService<InProcessTasks>()));

    RunClient? _client;

    /// <summary>
    /// Builds the host, not yet started: building touches nothing on disk, the stores are made when it starts.
    /// <paramref name="configure"/> may add flows and tasks (tests do) before the bus is added.
    /// </summary>
    public static LumeHost Build(IDictionary<string, string?>? settings = null, Action<IHostApplicationBuilder>? configure = null) =>
        // No appsettings files or their watchers: everything comes from LUME_* variables, and start-up stays quick.
        Build(Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true }), b => b.Build(),
            settings, configure);

    /// <summary>
    /// Sets <paramref name="builder"/> up as every command's host (the services embedded, or a client of the broker's),
    /// then builds it with <paramref name="build"/>: a generic host for most commands, a web application for <c>lume ui</c>.
    /// </summary>
    public static LumeHost Build<TBuilder>(TBuilder builder, Func<TBuilder, IHost> build, IDictionary<string, string?>? settings = null,
        Action<IHostApplicationBuilder>? configure = null)
        where TBuilder : IHostApplicationBuilder
    {
        // Services log at Information by default; in a terminal command only warnings are worth showing.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["LOG_LEVEL"] = "Warning" });
        builder.Configuration.AddEnvironmentVariables();
        builder.AddLumeDefaults("lume-cli", logToStandardError: true);
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);

        var embedded = string.IsNullOrWhiteSpace(builder.Configuration["BROKER"]);
        if (embedded)
        {
            // The Scheduler and the worker hand tasks and reports to each other directly, not through the in-memory bus.
            builder.Services.AddSingleton<InProcessTasks>();
            builder.AddLumeScheduler();
            builder.AddLumeTaskWorker();
            builder.AddLumeFileService();
            builder.AddLumeResults();
            builder.AddLumeExamples();
        }

        // A command ends promptly: what the services still hold when it stops (a message retried against a store that is
        // gone) is not worth waiting the host's default 30 s for.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        configure?.Invoke(builder);
        builder.AddLumeBus(service: false);
        return new LumeHost(build(builder), embedded);
    }

    /// <summary>How long a command waits for the broker before it says it cannot reach it (exit 3).</summary>
    public static readonly TimeSpan BrokerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Starts the host; with a broker, returns once connected, or throws naming the broker (without its password) after <see cref="BrokerTimeout"/>.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Host.StartAsync(cancellationToken);
        if (IsEmbedded)
            return;

        // MassTransit connects in the background and retries for ever: a broker that is down, or a port where something
        // other than RabbitMQ listens, would leave every request waiting on its own timeout.
        var bus = Host.Services.GetRequiredService<IBusControl>();
        var time = Host.Services.GetRequiredService<TimeProvider>();
        var deadline = time.GetUtcNow() + BrokerTimeout;
        while (true)
        {
            var health = bus.CheckHealth();
            if (health.Status == BusHealthStatus.Healthy)
                return;
            if (time.GetUtcNow() >= deadline)
            {
                var options = Host.Services.GetRequiredService<IOptions<LumeOptions>>().Value;
                var reason = health.Exception?.GetBaseException().Message ?? health.Description;
                await Host.StopAsync(CancellationToken.None);
                throw new LumeServiceException(
                    $"could not reach the broker at {options.BrokerAddress} (LUME_BROKER) within {BrokerTimeout.TotalSeconds:0} s ({reason}); " +
                    "is RabbitMQ running there?");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

    /// <summary>Cancelled by Ctrl+C or SIGTERM as well as by <paramref name="cancellationToken"/>, so a command never outlives a stop request.</summary>
    public CancellationTokenSource Stopping(CancellationToken cancellationToken) =>
        CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

    /// <summary>Stops the host; throws when it had to stop on its own (its store was lost), so the command reports that and not a consequence of it.</summary>
    public async Task StopAsync()
    {
        await Host.StopAsync(CancellationToken.None);
        if (FatalReason is { } reason)
            throw new LumeServiceException(reason);
    }

    /// <summary>Why the embedded services stopped on their own, or null.</summary>
    public string? FatalReason => Host.Services.GetRequiredService<LumeFatal>().Reason;

    public void Dispose() => Host.Dispose();
}
