using Lume.Hosting;
using Lume.Web;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddLumeDefaults("lume-gateway");
builder.AddLumeApi();
builder.AddLumeBus();
return builder.RunLumeGateway();
