// Lume's benchmarks: dotnet run -c Release --project bench -- [--quick]
// Starts what it needs (RabbitMQ through scripts/rabbitmq, the services as processes), measures Lume beside raw
// MassTransit and Celery on the same broker in the same run, prints a markdown table and writes docs/benchmarks.md.
using Lume.Bench;

var quick = args.Contains("--quick");
var results = await new BenchmarkRun(quick).RunAsync();
results.Print(Console.Out);
await results.WriteDocumentAsync();
Console.WriteLine(results.SummaryLine());
