using Lume.Cli;
using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Bench;

/// <summary>Lume as deployed: each service its own process on the local RabbitMQ, in a virtual host of its own.</summary>
sealed class LumeDeployment : IAsyncDisposable
{
    readonly List<ServiceProcess> _services = [];
    readonly string _vhost;
    readonly string _root;
    LumeHost? _client;
    IReadOnlyDictionary<string, string> _settings = new Dictionary<string, string>();

    LumeDeployment(string vhost, string url, string root)
    {
        _vhost = vhost;
        BrokerUrl = url;
        _root = root;
    }

    public string BrokerUrl { get; }

    public ServiceProcess? Scheduler { get; private set; }

    /// <summary>Each service process with its role (scheduler, fileservice, workers), for <see cref="CpuUse"/>.</summary>
    public IEnumerable<(string Role, int Pid)> Processes =>
        _services.Select(s => (s.Name.StartsWith("worker", StringComparison.Ordinal) ? "workers" : s.Name, s.Id));

    /// <param name="settings">More environment for every service (an OTLP endpoint, say).</param>
    public static async Task<LumeDeployment> StartAsync(int workers, IReadOnlyDictionary<string, string>? settings = null)
    {
        var (vhost, url) = await Broker.NewVirtualHostAsync();
        var deployment = new LumeDeployment(vhost, url, Path.Combine(Path.GetTempPath(), "lume-bench", vhost)) { _settings = settings ?? new Dictionary<string, string>() };
        deployment.Scheduler = await deployment.StartAsync("scheduler", "Lume.Scheduler");
        await deployment.StartAsync("fileservice", "Lume.FileService");
        for (var i = 1; i <= workers; i++)
            await deployment.StartAsync($"worker-{i}", "Lume.Examples.Worker");
        return deployment;
    }

    async Task<ServiceProcess> StartAsync(string name, string assembly)
    {
        var dataDir = Path.Combine(_root, name);
        var environment = new Dictionary<string, string>(_settings)
        {
            ["LUME_BROKER"] = BrokerUrl,
            ["LUME_DATA_DIR"] = dataDir,
            ["LUME_MESSAGE_DATA_DIR"] = Path.Combine(_root, "message-data"),
            ["LUME_LOG_LEVEL"] = "Information",
            ["LUME_WORKER__NAME"] = name,
        };
        var service = await ServiceProcess.StartAsync(name, assembly, environment, dataDir);
        _services.Add(service);
        return service;
    }

    /// <summary>The client host's bus, for a bench that publishes requests itself.</summary>
    public IBus Bus => _client?.Host.Services.GetRequiredService<IBus>() ?? throw new InvalidOperationException("no client yet: call ClientAsync first");

    public async Task<RunClient> ClientAsync()
    {
        if (_client is null)
        {
            _client = LumeHost.Build(new Dictionary<string, string?>
            {
                ["BROKER"] = BrokerUrl,
                ["DATA_DIR"] = Path.Combine(_root, "client"),
                ["MESSAGE_DATA_DIR"] = Path.Combine(_root, "message-data"), // shared with the services, as deployed
                ["LOG_LEVEL"] = "Error",
            });
            await _client.StartAsync(CancellationToken.None);
        }

        return _client.Client;
    }

    /// <summary>Registers flows for the default pool, whose workers offer the examples' task types, as a worker host would.</summary>
    public async Task RegisterAsync(params FlowDefinition[] flows)
    {
        await ClientAsync();
        var client = _client!.Host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterWorker>(RequestTimeout.After(m: 1));
        var (inline, claimCheck) = await FlowTransfer.PackAsync(_client.Host.Services.GetRequiredService<IMessageDataRepository>(), flows, CancellationToken.None);
        var answer = await client.GetResponse<WorkerRegistered>(new RegisterWorker("bench", "default", ["identity", "gather", "increment"],
            inline, TimeProvider.System.GetUtcNow(), claimCheck));
        if (answer.Message.Problems.Count > 0)
            throw new InvalidOperationException(string.Join("; ", answer.Message.Problems));
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync();
            _client.Dispose();
        }

        foreach (var service in _services)
            await service.DisposeAsync();
        await Broker.DeleteVirtualHostAsync(_vhost);
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }
}
