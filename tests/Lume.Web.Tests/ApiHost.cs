using Lume.Examples;
using Lume.FileService;
using Lume.Hosting;
using Lume.Results;
using Lume.Scheduler;
using Lume.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Web.Tests;

/// <summary>The API on a test server, with every service embedded on the in-memory transport, as <c>lume ui</c> will host it.</summary>
public sealed class ApiHost : IAsyncDisposable
{
    readonly string _dataDir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));
    WebApplication? _app;

    public HttpClient Client { get; private set; } = null!;

    public string DataDir => _dataDir;

    /// <param name="withServices">Host the services too; without them, the API has nobody to ask.</param>
    /// <param name="broker">A RabbitMQ broker (LUME_BROKER) instead of the in-memory transport.</param>
    public static async Task<ApiHost> StartAsync(string? token = null, bool withServices = true, int requestTimeoutSeconds = 10, string? broker = null)
    {
        var host = new ApiHost();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.AddLumeDefaults("lume-web-tests");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DATA_DIR"] = host._dataDir,
            ["LOG_LEVEL"] = "Warning",
            ["GATEWAY:TOKEN"] = token,
            ["BROKER"] = broker,
            ["GATEWAY:REQUEST_TIMEOUT_SECONDS"] = requestTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        if (withServices)
        {
            builder.Services.AddSingleton<InProcessTasks>();
            builder.AddLumeScheduler();
            builder.AddLumeTaskWorker();
            builder.AddLumeFileService();
            builder.AddLumeResults();
            builder.AddLumeExamples();
        }

        builder.AddLumeApi();
        builder.AddLumeBus(service: false);
        host._app = builder.Build();
        host._app.MapLumeWeb();
        await host._app.StartAsync();
        host.Client = host._app.GetTestClient();
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (Directory.Exists(_dataDir))
            Directory.Delete(_dataDir, recursive: true);
    }
}

/// <summary>One embedded host shared by the tests of a class: starting the services takes longer than most tests.</summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    public ApiHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ApiHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
