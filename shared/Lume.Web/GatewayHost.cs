using Lume.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Web;

/// <summary>Runs the Gateway: the API on its own, listening where <c>LUME_GATEWAY__URL</c> says.</summary>
public static class GatewayHost
{
    /// <summary>Listens on <see cref="GatewayOptions.Url"/>, maps the API, and runs; returns the process's exit code (3 for a setup error, as every service).</summary>
    public static int RunLumeGateway(this WebApplicationBuilder builder)
    {
        // Read leniently here: a bad value is reported, by name, by the validation at start.
        GatewayOptions gateway;
        try
        {
            gateway = LumeConfiguration.Read<GatewayOptions>(builder.Configuration.GetSection("GATEWAY"), "LUME_GATEWAY__");
        }
        catch (OptionsValidationException)
        {
            gateway = new GatewayOptions();
        }

        builder.WebHost.UseUrls(gateway.Url);
        try
        {
            var app = builder.Build();
            app.MapLumeWeb();
            app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Lume")
                .LogInformation("Serving the web view and the API on {Url}{Token}", gateway.Url, gateway.RequiresToken ? " (bearer token required)" : ""));
            app.Run();
            return Environment.ExitCode;
        }
        catch (Exception e) when (LumeStartup.Describe(e) is { } lines)
        {
            foreach (var line in lines)
                Console.Error.WriteLine($"error: {line}");
            return LumeStartup.CouldNotStart;
        }
    }
}
