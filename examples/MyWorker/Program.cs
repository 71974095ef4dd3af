// A worker of your own: the built-in tasks plus yours, and the flows that use them. It serves its own pool
// ("shouting"), so its flows run on its workers, and the stock TaskWorkers never get a task they lack.
using Lume.Flows;
using Lume.Hosting;
using Lume.Tasks;
using Lume.Worker;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("my-worker");
builder.AddLumeTaskWorker(pool: "shouting");

builder.Services.AddLumeTask("shout", (string text) => text.ToUpperInvariant() + "!");
builder.Services.AddLumeFlow(Flow.Define("shout", f =>
{
    var loud = f.Task("shout", new { text = f.Parameter("text") });
    f.Task("save_file", new { obj = loud, filename = f.Parameter("filename"), filesystem_identifier = "local" }, name: "save_shout");
}));

builder.AddLumeBus();
return builder.RunLume();
