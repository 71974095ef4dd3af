using Lume.Flows;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OpenTelemetry;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Lume.Hosting;

/// <summary>What every Lume host shares: configuration, logging, tracing, time and the bus.</summary>
public static class LumeHostExtensions
{

    /// <summary>
    /// Reads <c>LUME_*</c> variables (with <c>__</c> for nesting), validates <see cref="LumeOptions"/> at start,
    /// and sets up Serilog, OpenTelemetry and <see cref="TimeProvider"/>.
    /// </summary>
    /// <param name="logToStandardError">Send every log line to stderr, so a command's stdout carries only its output.</param>
    public static IHostApplicationBuilder AddLumeDefaults(this IHostApplicationBuilder builder, string serviceName, bool logToStandardError = false)
    {
        builder.Configuration.AddEnvironmentVariables("LUME_");
        builder.Services.AddOptions<LumeOptions>()
            .BindLume(builder.Configuration, "LUME_")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHealthChecks();
        // Large content travels by claim check through this folder; it is touched only when such content is sent.
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<LumeOptions>>().Value;
            return new MessageDataFolder(options.MessageDataPath, TimeSpan.FromHours(options.MessageDataHours), sp.GetRequiredService<TimeProvider>());
        });
        builder.Services.AddSingleton<IMessageDataRepository>(sp => sp.GetRequiredService<MessageDataFolder>());
        builder.Services.AddHostedService<MessageDataSweeper>();
        builder.Services.AddHostedService<HealthFile>();
        builder.Services.AddSingleton(sp => new LumeFatal(
            sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<ILogger<LumeFatal>>(), log: !logToStandardError));

        var options = Lenient(builder.Configuration);
        var level = Enum.TryParse<LogEventLevel>(options.LogLevel, out var parsed) ? parsed : LogEventLevel.Information;
        builder.Services.AddSerilog(log =>
        {
            log.MinimumLevel.Is(level)
                // MassTransit reports every bus start and endpoint at Information; that is noise for users.
                .MinimumLevel.Override("MassTransit", LogEventLevel.Warning)
                .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
                // An unhealthy check shows as the missing LUME_HEALTH_FILE; logging it every few seconds would bury the rest.
                .MinimumLevel.Override("Microsoft.Extensions.Diagnostics.HealthChecks", LogEventLevel.Fatal)
                .Enrich.FromLogContext()
                .Enrich.With<TraceIdEnricher>()
                .Enrich.WithProperty("Service", serviceName);
            var toStderr = logToStandardError ? LogEventLevel.Verbose : (LogEventLevel?)null;
            if (logToStandardError)
                log.MinimumLevel.Override("Microsoft.Extensions.Hosting", LogEventLevel.Fatal); // a command reports its own start-up errors
            if (logToStandardError)
                // A command says itself what went wrong with the broker or the bus; MassTransit's retries would repeat it.
                log.MinimumLevel.Override("MassTransit", LogEventLevel.Error);
            // A host that failed to start stops a bus it never started, and MassTransit warns about that: noise before the real error.
            log.Filter.ByExcluding(e => e.Level <= LogEventLevel.Warning && e.MessageTemplate.Text.StartsWith("Failed to stop bus", StringComparison.Ordinal));
            // A setup error is printed once, as a line naming the setting or file, by whoever runs the host (RunLume, the CLI).
            log.Filter.ByExcluding(e => e.Exception is { } error && LumeStartup.Describe(error) is not null);
            if (options.LogFormat == "json")
                log.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: toStderr);
            else
                log.Enrich.With<ErrorSummary>().WriteTo.Console(
                    // Properties carries what LogContext adds while a run is handled: RunId, TaskSlug, TraceId. Stack traces
                    // are for whoever debugs Lume: at Debug and below; above, an error is its type and message.
                    outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {Service}: {Message:lj} {Properties:j}{NewLine}" +
                        (level <= LogEventLevel.Debug ? "{Exception}" : "{" + ErrorSummary.Property + ":l}"),
                    standardErrorFromLevel: toStderr);
        });

        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithMetrics(m => m.AddMeter(LumeTelemetry.Name));
        if (otlp || options.TraceConsole)
        {
            telemetry.WithTracing(t =>
            {
                t.AddSource("MassTransit", LumeTelemetry.Name);
                // Spans as text on stdout, for anyone without a collector, and for the tests that follow a run across processes.
                if (options.TraceConsole)
                    t.AddConsoleExporter();
            });
        }
        else
        {
            // Nobody exports spans: keep only their ids, so trace context still crosses services and every log line
            // still carries its run's TraceId, without filling in the tags of spans no one will read.
            builder.Services.AddHostedService<TraceContextOnly>();
        }

        // The exporter switches on only where a collector is configured, as in eShop's ServiceDefaults.
        if (otlp)
            telemetry.UseOtlpExporter();
        return builder;
    }

    // The settings as far as they can be read while the host is built (logging, the transport). A bad value is left at
    // its default here: the validation at start reports it, by name, in the one place every setting error goes.
    static LumeOptions Lenient(IConfiguration configuration)
    {
        try
        {
            return LumeConfiguration.Read<LumeOptions>(configuration, "LUME_");
        }
        catch (OptionsValidationException)
        {
            return new LumeOptions();
        }
    }

    /// <summary>Makes a flow known to this host: the Scheduler serves it, the TaskWorker checks it offers its task types.</summary>
    public static IServiceCollection AddLumeFlow(this IServiceCollection services, FlowDefinition flow) =>
        services.AddSingleton(flow);

    /// <summary>
    /// Adds consumers, definitions and request clients to the one bus of this host. A service's
    /// <c>AddLume…</c> extension calls this; <see cref="AddLumeBus"/> applies every contribution.
    /// </summary>
    public static IServiceCollection AddLumeConsumers(this IServiceCollection services, Action<IBusRegistrationConfigurator> register) =>
        services.AddSingleton(new BusContribution(register));

    /// <summary>Applies every <c>AddLumeConsumers</c> contribution to a bus configurator, e.g. MassTransit's test harness.</summary>
    public static void ApplyLumeConsumers(this IBusRegistrationConfigurator bus, IServiceCollection services)
    {
        foreach (var contribution in services.Select(d => d.ImplementationInstance).OfType<BusContribution>().ToArray())
            contribution.Register(bus);
    }

    /// <summary>
    /// Adds the bus with every service's consumers (see <see cref="ApplyLumeConsumers"/>). Call it last, after the
    /// services' <c>AddLume…</c> extensions. With <c>LUME_BROKER</c> set the transport is RabbitMQ (durable queues,
    /// persistent messages: MassTransit's defaults); without it, in-memory, and every service must live in this process.
    /// </summary>
    /// <param name="service">
    /// A long-running service, which stops (exit 1) when its sends stick while the broker takes messages
    /// (<see cref="SendWatchdog"/>); a command or a client in someone else's process never exits by itself.
    /// </param>
    public static IHostApplicationBuilder AddLumeBus(this IHostApplicationBuilder builder, bool service = true)
    {
        var broker = Lenient(builder.Configuration).BrokerAddress;
        if (broker is not null && service)
        {
            builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<SendWatchdog>(sp, broker));
            builder.Services.AddSendObserver(sp => sp.GetRequiredService<SendWatchdog>());
            builder.Services.AddPublishObserver(sp => sp.GetRequiredService<SendWatchdog>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<SendWatchdog>());
        }

        // One queue per process for the run events its clients wait on, connected when first asked for.
        builder.Services.TryAddSingleton(sp => new RunEvents(sp.GetRequiredService<IBus>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            // MassTransit reports usage to its makers over the internet unless told not to; a Lume deployment calls nobody.
            bus.DisableUsageTelemetry();
            bus.ApplyLumeConsumers(builder.Services);
            bus.AddConfigureEndpointsCallback((context, name, endpoint) =>
            {
                RequeueWhileStopping.Configure(endpoint, context.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
                PlainJson.Configure(name, endpoint);
            });
            if (broker is null)
            {
                bus.UsingInMemory((context, cfg) =>
                {
                    cfg.UseMessageData(context.GetRequiredService<IMessageDataRepository>());
                    cfg.UseConsumeFilter(typeof(RunLogContextFilter<>), context);
                    cfg.ConfigureEndpoints(context);
                });
                return;
            }

            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
                {
                    h.Username(broker.Username);
                    h.Password(broker.Password);
                    if (broker.UseTls)
                        h.UseSsl(_ => { });
                });
                cfg.UseMessageData(context.GetRequiredService<IMessageDataRepository>());
                cfg.UseConsumeFilter(typeof(RunLogContextFilter<>), context);
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.Services.AddHostedService(sp => new ReadyLog(
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Lume"), broker?.ToString() ?? "in-memory"));
        return builder;
    }

    // One line at start that says the service is up and where it listens; MassTransit's own start-up lines are filtered out.
    sealed class ReadyLog(Microsoft.Extensions.Logging.ILogger logger, string transport) : IHostedLifecycleService
    {
        public Task StartedAsync(CancellationToken cancellationToken)
        {
            logger.LogInformation("Started on {Transport}", transport);
            return Task.CompletedTask;
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    sealed record BusContribution(Action<IBusRegistrationConfigurator> Register);
}
