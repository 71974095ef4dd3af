using Lume.Examples;
using Lume.Hosting;
using Lume.TaskWorker;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-taskworker");
builder.AddLumeTaskWorker();
builder.AddLumeExamples();
builder.AddLumeBus();
return builder.RunLume();
