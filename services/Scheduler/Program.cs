using Lume.Hosting;
using Lume.Scheduler;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-scheduler");
builder.AddLumeScheduler();
builder.AddLumeBus();
return builder.RunLume();
