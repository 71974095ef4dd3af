using Lume.Testing;
using Lume.Cli;

namespace Lume.Integration.Tests;

/// <summary>
/// A Lume deployment for one test: its own RabbitMQ virtual host and data folders, each service a separate process,
/// and a client like the CLI's.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    readonly List<ServiceProcess> _services = [];
    readonly string? _vhost;
    LumeHost? _client;

    readonly bool _traceConsole;

    Cluster(string? vhost, string brokerUrl, string root, bool traceConsole)
    {
        _vhost = vhost;
        BrokerUrl = brokerUrl;
        Root = root;
        _traceConsole = traceConsole;
    }

    /// <summary>The services, each its own process, in the order they were started.</summary>
    public IReadOnlyList<ServiceProcess> Services => _services;

    public string BrokerUrl { get; }

    /// <summary>The RabbitMQ virtual host the cluster uses.</summary>
    public string VirtualHost => _vhost ?? "/";

    public string Root { get; }

    /// <summary>The claim-check folder every process of the cluster shares.</summary>
    public string MessageDataDir => Path.Combine(Root, "message-data");

    /// <summary>The FileService's local filesystem root.</summary>
    public string FilesRoot => Path.Combine(Root, "files");

    /// <param name="traceConsole">Have every service write its spans to stdout (LUME_TRACE_CONSOLE), to be read back from <see cref="ServiceProcess.Output"/>.</param>
    public static async Task<Cluster> CreateAsync(bool traceConsole = false)
    {
        var (vhost, url) = await Broker.NewVirtualHostAsync();
        return new Cluster(vhost, url, Path.Combine(Path.GetTempPath(), "lume-it", vhost), traceConsole);
    }

    /// <summary>A cluster on a broker of its own (a node <see cref="Broker.StartNodeAsync"/> started), which the test may restart.</summary>
    public static Cluster OnOwnBroker(string brokerUrl, string name) =>
        new(null, brokerUrl, Path.Combine(Path.GetTempPath(), "lume-it", $"{name}-{Guid.NewGuid():N}"[..24]), traceConsole: false);

    Dictionary<string, string> Environment(string dataDir, params (string Key, string Value)[] more)
    {
        var environment = new Dictionary<string, string>
        {
            ["LUME_BROKER"] = BrokerUrl,
            ["LUME_DATA_DIR"] = dataDir,
            ["LUME_LOG_LEVEL"] = "Information",
            ["LUME_MESSAGE_DATA_DIR"] = MessageDataDir,
            ["LUME_TRACE_CONSOLE"] = _traceConsole ? "true" : "false",
        };
        foreach (var (key, value) in more)
            environment[key] = value;
        return environment;
    }

    async Task<ServiceProcess> StartAsync(string name, string assembly, string dataDir, params (string, string)[] more) =>
        await StartFromAsync(null, name, assembly, dataDir, more);

    async Task<ServiceProcess> StartFromAsync(string? assemblyDirectory, string name, string assembly, string dataDir, params (string, string)[] more)
    {
        var service = await ServiceProcess.StartAsync(name, assembly, Environment(dataDir, more), dataDir, assemblyDirectory);
        _services.Add(service);
        return service;
    }

    public Task<ServiceProcess> StartSchedulerAsync(params (string, string)[] more) =>
        StartAsync("scheduler", "Lume.Scheduler", Path.Combine(Root, "scheduler"), more);

    /// <summary>A Scheduler process named <paramref name="name"/>, on the same store (the same SQLite file) as every other Scheduler of the cluster.</summary>
    public Task<ServiceProcess> StartSchedulerAsync(string name, params (string, string)[] more) =>
        StartAsync(name, "Lume.Scheduler", Path.Combine(Root, "scheduler"), more);

    public Task<ServiceProcess> StartFileServiceAsync() =>
        StartAsync("fileservice", "Lume.FileService", Path.Combine(Root, "fileservice"), ("LUME_LOCAL_FILESYSTEM__ROOT", FilesRoot));

    public Task<ServiceProcess> StartResultsAsync() =>
        StartAsync("results", "Lume.Results", Path.Combine(Root, "results"));

    /// <summary>Starts a service of the cluster with more settings; for services the named methods do not cover.</summary>
    public Task<ServiceProcess> StartServiceAsync(string name, string assembly, params (string, string)[] more) =>
        StartAsync(name, assembly, Path.Combine(Root, name), more);

    /// <summary>The Gateway (the HTTP API) on a free port of the loopback; its address is the second item.</summary>
    public async Task<(ServiceProcess Service, Uri Address)> StartGatewayAsync(params (string, string)[] more)
    {
        // A port the system just handed out and took back: nothing else asks for it in the moment before the Gateway does.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var address = new Uri($"http://127.0.0.1:{port}");
        var service = await StartFromAsync(null, "gateway", "Lume.Gateway", Path.Combine(Root, "gateway"),
            [("LUME_GATEWAY__URL", address.ToString().TrimEnd('/')), .. more]);
        return (service, address);
    }

    /// <summary>The examples worker host (examples/ExamplesWorker): the stock worker plus flow1 and the other example flows and tasks.</summary>
    public Task<ServiceProcess> StartWorkerAsync(string name, params (string, string)[] more) =>
        StartAsync(name, "Lume.Examples.Worker", Path.Combine(Root, name), [("LUME_WORKER__NAME", name), .. more]);

    /// <summary>The production worker (services/TaskWorker): the built-in tasks and no flows.</summary>
    public Task<ServiceProcess> StartStockWorkerAsync(string name, params (string, string)[] more) =>
        StartAsync(name, "Lume.TaskWorker", Path.Combine(Root, name), [("LUME_WORKER__NAME", name), .. more]);

    /// <summary>The example of a user's own worker host (examples/MyWorker), serving the pool "shouting".</summary>
    public Task<ServiceProcess> StartMyWorkerAsync(string name) =>
        StartAsync(name, "Lume.Examples.MyWorker", Path.Combine(Root, name), ("LUME_WORKER__NAME", name));

    /// <summary>A client host on the cluster's broker, as <c>lume</c> is with LUME_BROKER set.</summary>
    public async Task<RunClient> ClientAsync() => (await ClientHostAsync()).Client;

    /// <summary>The client's services: request clients, the shared message data repository.</summary>
    public async Task<IServiceProvider> ClientServicesAsync() => (await ClientHostAsync()).Host.Services;

    async Task<LumeHost> ClientHostAsync()
    {
        if (_client is null)
        {
            _client = LumeHost.Build(new Dictionary<string, string?>
            {
                ["BROKER"] = BrokerUrl,
                ["DATA_DIR"] = Path.Combine(Root, "client"),
                ["MESSAGE_DATA_DIR"] = MessageDataDir,
            });
            await _client.StartAsync(CancellationToken.None);
        }

        return _client;
    }

    /// <summary>Every service's output, for a failing test's message.</summary>
    public string Logs => string.Join("\n", _services.Select(s => $"===== {s.Name} (pid {s.Id}{(s.HasExited ? ", exited" : "")})\n{s.Output}"));

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }

        foreach (var service in _services)
            await service.DisposeAsync();
        if (_vhost is not null)
            await Broker.DeleteVirtualHostAsync(_vhost);
        if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }
}
