using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Tasks;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.TaskWorker;

/// <summary>
/// Once the bus is up, registers this worker's pool, task types and flows with the Scheduler, then sends a
/// heartbeat every few seconds. Start-up waits for the first answer, so flows can be run as soon as the host
/// has started; if no Scheduler answers in time, the worker starts anyway and keeps trying in the background.
/// Flows the Scheduler refuses stop the start with their problems.
/// </summary>
public sealed class WorkerRegistration(
    IClientFactory clients,
    IBus bus,
    TaskRegistry registry,
    IEnumerable<FlowDefinition> flows,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<WorkerRegistration> logger) : IHostedLifecycleService
{
    static readonly TimeSpan FirstAnswerTimeout = TimeSpan.FromSeconds(10);

    readonly CancellationTokenSource _stopping = new();
    Task _heartbeats = Task.CompletedTask;
    bool _registered;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RegisterAsync(cancellationToken);
        }
        catch (RequestTimeoutException)
        {
            logger.LogWarning("No Scheduler answered within {Timeout}; this worker keeps trying to register", FirstAnswerTimeout);
        }

        _heartbeats = HeartbeatsAsync(_stopping.Token);
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var worker = options.Value;
        var request = new RegisterWorker(
            worker.Name,
            worker.Pool,
            registry.Names.Order(StringComparer.Ordinal).ToArray(),
            flows.Select(f => JsonSerializer.Deserialize<JsonElement>(FlowJson.Write(registry.WithDefaults(f)))).ToArray(),
            time.GetUtcNow());
        var client = clients.CreateRequestClient<RegisterWorker>(RequestTimeout.After(s: (int)FirstAnswerTimeout.TotalSeconds));
        var answer = await client.GetResponse<WorkerRegistered>(request, cancellationToken);
        if (answer.Message.Problems.Count > 0)
            throw new FlowDefinitionException(answer.Message.Problems);
        _registered = true;
        logger.LogInformation("Registered with the Scheduler: pool {Pool}, {FlowCount} flows, task types {TaskTypes}",
            worker.Pool, request.Flows.Count, request.TaskTypes);
    }

    async Task HeartbeatsAsync(CancellationToken stopping)
    {
        var interval = TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stopping);
                if (_registered)
                    await bus.Publish(new WorkerHeartbeat(options.Value.Name, options.Value.Pool, time.GetUtcNow()), stopping);
                else
                    await RegisterAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RequestTimeoutException or FlowDefinitionException)
            {
                logger.LogWarning("Registering with the Scheduler failed: {Message}", e.Message);
            }
            catch (Exception e)
            {
                // A broker that is away (closed channel, connection refused) comes back; the loop must outlive it.
                logger.LogWarning("Heartbeat failed, trying again in {Interval}: {Error}", interval, e.Message);
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _stopping.Dispose();
        return Task.CompletedTask;
    }
}
