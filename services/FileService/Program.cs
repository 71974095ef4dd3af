using Lume.FileService;
using Lume.Hosting;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddLumeDefaults("lume-fileservice");
builder.AddLumeFileService();
builder.AddLumeBus();
return builder.RunLume();
