using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lume.Bench;

public sealed record BenchPing(int Step);

public sealed record BenchPong(int Step);

public sealed record BenchEvent(int Index);

/// <summary>The floor: MassTransit on the same broker with no Lume code.</summary>
static class RawMassTransit
{
    sealed class PingConsumer : IConsumer<BenchPing>
    {
        public Task Consume(ConsumeContext<BenchPing> context) => context.RespondAsync(new BenchPong(context.Message.Step));
    }

    sealed class EventConsumer(Counter counter) : IConsumer<BenchEvent>
    {
        public Task Consume(ConsumeContext<BenchEvent> context)
        {
            counter.Hit();
            return Task.CompletedTask;
        }
    }

    sealed class Counter
    {
        int _count;
        public int Target { get; set; }
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Hit()
        {
            if (Interlocked.Increment(ref _count) == Target)
                Done.TrySetResult();
        }
    }

    static async Task<IHost> StartAsync(string brokerUrl, Counter counter)
    {
        var broker = Hosting.BrokerAddress.TryParse(brokerUrl)!;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(counter);
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<PingConsumer>();
            x.AddConsumer<EventConsumer>().Endpoint(e => e.PrefetchCount = 64);
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
                {
                    h.Username(broker.Username);
                    h.Password(broker.Password);
                });
                cfg.ConfigureEndpoints(context);
            });
        });
        var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        return host;
    }

    /// <summary>A chain of request/response steps, one after the other: milliseconds per step.</summary>
    public static async Task<IReadOnlyList<double>> ChainAsync(string brokerUrl, int steps)
    {
        using var host = await StartAsync(brokerUrl, new Counter());
        var client = host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<BenchPing>();
        for (var i = 0; i < 20; i++)
            await client.GetResponse<BenchPong>(new BenchPing(i)); // warm-up
        var times = new List<double>(steps);
        for (var i = 0; i < steps; i++)
        {
            var clock = Stopwatch.StartNew();
            await client.GetResponse<BenchPong>(new BenchPing(i));
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        await host.StopAsync();
        return times;
    }

    /// <summary>Publishes persistent messages and waits until all are consumed: messages per second.</summary>
    public static async Task<double> PublishConsumeAsync(string brokerUrl, int messages)
    {
        var counter = new Counter { Target = messages };
        using var host = await StartAsync(brokerUrl, counter);
        var bus = host.Services.GetRequiredService<IBus>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, messages).Select(i => bus.Publish(new BenchEvent(i))));
        await counter.Done.Task.WaitAsync(TimeSpan.FromMinutes(5));
        var rate = messages / clock.Elapsed.TotalSeconds;
        await host.StopAsync();
        return rate;
    }
}
