using Lume.Hosting;
using Lume.Results;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-results");
builder.AddLumeResults();
builder.AddLumeBus();
return builder.RunLume();
