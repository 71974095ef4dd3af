using System.ComponentModel;
using System.Net;
using Lume.Hosting;
using Lume.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary>
/// <c>lume ui [--port N]</c>: the web view and its API on this machine, through the same host as every other command
/// (the services embedded, with the data of <c>lume run</c>; or a client of the broker's), until Ctrl+C.
/// </summary>
public sealed class UiCommand(IAnsiConsole console) : AsyncCommand<UiCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--port <N>")]
        [Description("The port to listen on, at 127.0.0.1 (default 8080)")]
        public string? PortText { get; init; }

        public int Port => CliInput.Count(PortText, "--port", 8080, 1, 65_535).Value;

        public override ValidationResult Validate() => CliInput.Validate(CliInput.Count(PortText, "--port", 8080, 1, 65_535).Problem);
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var port = settings.Port;
        using var lume = BuildHost(port);
        try
        {
            await lume.StartAsync(cancellationToken);
        }
        catch (IOException e) when (e.InnerException is AddressInUseException)
        {
            // The services started before the server failed to listen; stopped, not just dropped, they end quietly.
            await lume.Host.StopAsync(CancellationToken.None);
            throw new LumeServiceException($"port {port} on 127.0.0.1 is already in use by another program; stop it, or pass another --port");
        }

        var options = lume.Host.Services.GetRequiredService<IOptions<LumeOptions>>().Value;
        var token = lume.Host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.RequiresToken ? "; bearer token required (LUME_GATEWAY__TOKEN)" : "";
        console.Profile.Out.Writer.WriteLine(lume.IsEmbedded
            ? $"Lume UI on {AddressOf(lume)} — embedded services, data in {options.DataPath}{token}; Ctrl+C to stop"
            : $"Lume UI on {AddressOf(lume)} — services of the broker at {options.BrokerAddress}{token}; Ctrl+C to stop");
        using (var stopping = lume.Stopping(cancellationToken))
        {
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, stopping.Token);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C or SIGTERM, or the embedded services stopped on their own (which StopAsync reports): serving is done.
            }
        }

        await lume.StopAsync();
        return 0;
    }

    /// <summary>
    /// The view as <c>lume ui</c> serves it, not yet started: Kestrel at 127.0.0.1:<paramref name="port"/> (0: a free
    /// port), the pages and the API, on every command's host. The browser tests and <c>bench --ui</c> host it here too.
    /// </summary>
    public static LumeHost BuildHost(int port, IDictionary<string, string?>? settings = null, Action<IHostApplicationBuilder>? configure = null)
    {
        // The content root is the install folder, not the working directory, whose appsettings files are not Lume's.
        var web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        // This machine only: whoever reaches the port can start and cancel runs, unless LUME_GATEWAY__TOKEN is set.
        web.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        return LumeHost.Build(web, b => b.Build().MapLumeWeb(), settings, b =>
        {
            b.AddLumeApi();
            configure?.Invoke(b);
        });
    }

    /// <summary>Where a started host of <see cref="BuildHost"/> listens, e.g. http://127.0.0.1:8080 (no trailing slash).</summary>
    public static string AddressOf(LumeHost host) =>
        host.Host.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First().TrimEnd('/');
}
