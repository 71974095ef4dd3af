using Lume.Hosting;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-results");
builder.AddLumeBus();
builder.Build().Run();
