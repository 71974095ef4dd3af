// Lume's benchmarks: dotnet run -c Release --project bench -- [--quick] [--only chain,fanout,...]
// Starts what it needs (RabbitMQ through scripts/rabbitmq, the services as processes), measures Lume beside raw
// MassTransit and Celery on the same broker in the same run, prints a markdown table and writes docs/benchmarks.md.
using Lume.Bench;
using Spectre.Console.Cli;

var app = new CommandApp<BenchCommand>();
app.Configure(config =>
{
    config.SetApplicationName("bench");
    config.Settings.StrictParsing = true;
});
return await app.RunAsync(args);
