using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Lume.Results.Model;
using Lume.Results.Stores;
using Lume.Scheduler.Runs;
using Lume.Storage;

namespace Lume.Results.Tests.Stores;

/// <summary>Against an address where nothing listens: each store operation fails within the timeout, by the variables to check.</summary>
public class UnreachableMongoTests
{
    const string Password = "s3cr3t-pw";
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(0.5);

    /// <summary>A port on the loopback address that was free a moment ago, so that connecting to it is refused.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static MongoSettings Nowhere(int port) =>
        new() { Host = "127.0.0.1", Port = port.ToString(System.Globalization.CultureInfo.InvariantCulture), Username = "lume", Password = Password, TimeoutSeconds = "0.5" };

    public static TheoryData<string> Operations => ["initialize", "insert", "exists", "find"];

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task EveryResultStoreOperation_FailsWithinTheTimeout_NamingHostPortAndTheirVariables(string operation)
    {
        var port = FreePort();
        var store = new MongoResultStore(Nowhere(port).Open("LUME_RESULTS_DB__"));
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => operation switch
        {
            "initialize" => store.InitializeAsync(CancellationToken.None),
            "insert" => store.InsertAsync(DbDict(), CancellationToken.None),
            "exists" => store.CollectionExistsAsync("local", CancellationToken.None),
            _ => store.FindAsync("local", new Dictionary<string, JsonElement>(), 10, CancellationToken.None),
        });

        // The driver's timer may fire a hair before this stopwatch says the timeout has passed (CI saw 0.4997 s of 0.5).
        Assert.InRange(clock.Elapsed, Timeout - TimeSpan.FromMilliseconds(20), Timeout + TimeSpan.FromSeconds(5));
        Assert.False(error.Misconfigured);
        Assert.Equal(
            $"the Results store's MongoDB at 127.0.0.1:{port} did not answer within 0.5 s (Connection refused): check LUME_RESULTS_DB__HOST and LUME_RESULTS_DB__PORT",
            error.Message);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStoreConfiguredByConnectionString_PointsToIt_NeverToThePassword()
    {
        var port = FreePort();
        var settings = new MongoSettings { ConnectionString = $"mongodb://lume:{Password}@127.0.0.1:{port}/", TimeoutSeconds = "0.5" };
        var store = new MongoResultStore(settings.Open("LUME_RESULTS_DB__"));

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.CollectionExistsAsync("local", CancellationToken.None));

        Assert.EndsWith("check the hosts in LUME_RESULTS_DB__CONNECTION_STRING", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnIndexThatFailedWhileTheServerWasAway_IsTriedAgain()
    {
        var store = new MongoResultStore(Nowhere(FreePort()).Open("LUME_RESULTS_DB__"));

        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.InsertAsync(DbDict(), CancellationToken.None));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.InsertAsync(DbDict(), CancellationToken.None));

        // A remembered failure would come back at once; a new attempt waits for the server again.
        Assert.True(clock.Elapsed >= Timeout * 0.9, $"the second insert failed after {clock.Elapsed}, without asking the server again");
    }

    [Fact]
    public async Task AResultBeyondMongoDbsDocumentSize_IsAnInvalidResult_NamingItsLargestField_BeforeTheServerIsAsked()
    {
        var store = new MongoResultStore(Nowhere(FreePort()).Open("LUME_RESULTS_DB__"));
        var dbDict = ResultDocuments.ToDbDict(
            JsonSerializer.SerializeToElement(new { flow_id = "f", inputs = new { a = 1 }, outputs = new { big = new string('x', MongoResultStore.MaxDocumentBytes) } }),
            new ResultTypeRegistry([ResultType.Generic]), DateTimeOffset.UtcNow);

        // Had the server been asked, nothing listening there, this would be a StoreUnavailableException.
        var error = await Assert.ThrowsAsync<ResultException>(() => store.InsertAsync(dbDict, CancellationToken.None));

        Assert.Equal("InvalidResult", error.ErrorType);
        Assert.Contains("its largest field is outputs (16.0 MiB)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSchedulersMongoRunStore_FailsWithinTheTimeout_NamingItsVariables_NeverThePassword()
    {
        var port = FreePort();
        var store = new MongoRunStore(Nowhere(port).Open("LUME_SCHEDULER_DB__"));
        var clock = Stopwatch.StartNew();

        var initialize = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.InitializeAsync(CancellationToken.None));
        var list = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.ListAsync(10, "flow1", Lume.Contracts.RunState.Running, CancellationToken.None));
        var lease = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.ReleaseLeaseAsync("me", CancellationToken.None));

        Assert.InRange(clock.Elapsed, Timeout * 3, Timeout * 3 + TimeSpan.FromSeconds(5));
        foreach (var error in new[] { initialize, list, lease })
        {
            Assert.Equal(
                $"the Scheduler store's MongoDB at 127.0.0.1:{port} did not answer within 0.5 s (Connection refused): check LUME_SCHEDULER_DB__HOST and LUME_SCHEDULER_DB__PORT",
                error.Message);
            Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
        }
    }

    static System.Text.Json.Nodes.JsonObject DbDict() => ResultDocuments.ToDbDict(
        JsonSerializer.SerializeToElement(new { flow_id = "f", inputs = new { a = 1 }, outputs = new { b = 2 } }),
        new ResultTypeRegistry([ResultType.Generic]), DateTimeOffset.UtcNow);
}
