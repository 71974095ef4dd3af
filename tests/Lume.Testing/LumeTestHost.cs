using Lume.Contracts;
using Lume.Hosting;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lume.Testing;

/// <summary>
/// A real host with the services a test adds, on MassTransit's test harness (in-memory, with every message
/// recorded), and a data folder of its own that is deleted afterwards.
/// </summary>
public sealed class LumeTestHost : IAsyncDisposable
{
    readonly IHost _host;

    LumeTestHost(IHost host, string dataDir)
    {
        _host = host;
        DataDir = dataDir;
    }

    public string DataDir { get; }

    public IServiceProvider Services => _host.Services;

    public ITestHarness Harness => _host.Services.GetTestHarness();

    /// <summary>Builds and starts a host; <paramref name="add"/> adds the services under test (their consumers go on the harness bus).</summary>
    public static async Task<LumeTestHost> StartAsync(Action<IHostApplicationBuilder> add, IDictionary<string, string?>? settings = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["LOG_LEVEL"] = "Warning" });
        builder.AddLumeDefaults("lume-tests");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["DATA_DIR"] = dataDir });
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);
        add(builder);
        builder.Services.AddMassTransitTestHarness(bus =>
        {
            bus.ApplyLumeConsumers(builder.Services);
            // Claim checks (big results, big flows) as the services read them.
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.UseMessageData(context.GetRequiredService<IMessageDataRepository>());
                cfg.ConfigureEndpoints(context);
            });
        });
        var host = builder.Build();
        await host.StartAsync();
        return new LumeTestHost(host, dataDir);
    }

    /// <summary>Waits until a published message of type <typeparamref name="T"/> matches, and returns it (see <see cref="AllPublished{T}"/>).</summary>
    public Task<T> PublishedAsync<T>(Func<T, bool> match, TimeSpan? timeout = null)
        where T : class =>
        FirstAsync(token => Harness.Published.SelectAsync(m => Within(m.MessageObject, match).Any(), token).FirstOrDefault(), m => m.MessageObject, match, "published", timeout);

    // The harness's search ends when the bus has been quiet for a moment; a message that comes after a quiet spell is
    // searched for again, until the timeout.
    static async Task<T> FirstAsync<TFound, T>(Func<CancellationToken, Task<TFound?>> search, Func<TFound, object> message, Func<T, bool> match, string how, TimeSpan? timeout)
        where TFound : class
        where T : class
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                if (await search(cancel.Token) is { } found)
                    return Within(message(found), match).First();
                await Task.Delay(50, cancel.Token);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                break;
            }
        }

        throw new TimeoutException($"no {typeof(T).Name} matching the condition was {how}");
    }

    /// <summary>Waits until a sent message (a command to a queue) of type <typeparamref name="T"/> matches, and returns it (see <see cref="AllSent{T}"/>).</summary>
    public Task<T> SentAsync<T>(Func<T, bool> match, TimeSpan? timeout = null)
        where T : class =>
        FirstAsync(token => Harness.Sent.SelectAsync(m => Within(m.MessageObject, match).Any(), token).FirstOrDefault(), m => m.MessageObject, match, "sent", timeout);

    // A message, or the ones a batch carries (TaskReady in TasksReady, TaskCompleted and TaskFailed in TaskReports).
    static IEnumerable<T> Within<T>(object message, Func<T, bool>? match)
        where T : class
    {
        IEnumerable<object> carried = message switch
        {
            TasksReady batch => batch.Tasks,
            TaskReports reports => [.. reports.Completed, .. reports.Failed],
            _ => [message],
        };
        return carried.OfType<T>().Where(m => match?.Invoke(m) ?? true);
    }

    /// <summary>Every sent message of type <typeparamref name="T"/> so far that matches; a TaskReady counts whether it went alone or in a TasksReady.</summary>
    public IReadOnlyList<T> AllSent<T>(Func<T, bool>? match = null)
        where T : class =>
        Harness.Sent.Select(_ => true).SelectMany(m => Within(m.MessageObject, match)).ToList();

    /// <summary>
    /// Every published message of type <typeparamref name="T"/> so far that matches; a TaskCompleted or TaskFailed counts
    /// whether it went alone or in a TaskReports.
    /// </summary>
    public IReadOnlyList<T> AllPublished<T>(Func<T, bool>? match = null)
        where T : class =>
        Harness.Published.Select(_ => true).SelectMany(m => Within(m.MessageObject, match)).ToList();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        if (Directory.Exists(DataDir))
            Directory.Delete(DataDir, recursive: true);
    }
}
