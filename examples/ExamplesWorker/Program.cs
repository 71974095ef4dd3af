// The stock worker plus the examples' flows and tasks (flow1 and the rest), in the default pool unless
// LUME_WORKER__POOL says otherwise: what README, tests and benchmarks run.
using Lume.Examples;
using Lume.Hosting;
using Lume.Worker;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-examples-worker");
builder.AddLumeTaskWorker();
builder.AddLumeExamples();
builder.AddLumeBus();
return builder.RunLume();
