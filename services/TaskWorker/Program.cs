using Lume.Hosting;
using Lume.Worker;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-taskworker");
builder.AddLumeTaskWorker();
builder.AddLumeBus();
return builder.RunLume();
