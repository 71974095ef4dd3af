using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>
/// The split of issue 15: the production worker (services/TaskWorker) is the library's built-in tasks and nothing of the
/// examples, a user's worker host (examples/MyWorker) builds on the library, not on the production host, and only the
/// hosts that keep data carry a store driver.
/// </summary>
public sealed class WorkerHostDependencyTests
{
    // The hosts' deps.json files land beside the tests through this project's references, rebuilt with every build,
    // so a reference someone adds back shows here.
    static IReadOnlyList<string> Libraries(string assembly)
    {
        using var deps = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, $"{assembly}.deps.json")));
        return deps.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name[..l.Name.IndexOf('/', StringComparison.Ordinal)]).ToArray();
    }

    [Fact]
    public void StockWorker_ShipsNeitherTheExamplesNorAStoreDriver()
    {
        var libraries = Libraries("Lume.TaskWorker");

        Assert.Contains("Lume.Worker", libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("Lume.Examples", StringComparison.Ordinal));
        Assert.DoesNotContain(libraries, l => l.StartsWith("MongoDB.", StringComparison.Ordinal) || l == "Microsoft.Data.Sqlite");
    }

    [Fact]
    public void FileService_ShipsNoStoreDriver()
    {
        var libraries = Libraries("Lume.FileService");

        Assert.DoesNotContain(libraries, l => l.StartsWith("MongoDB.", StringComparison.Ordinal) || l == "Microsoft.Data.Sqlite");
    }

    [Fact]
    public void ExamplesWorker_IsTheLibraryWithTheExamples()
    {
        var libraries = Libraries("Lume.Examples.Worker");

        Assert.Contains("Lume.Worker", libraries);
        Assert.Contains("Lume.Examples", libraries);
        Assert.DoesNotContain("Lume.TaskWorker", libraries);
    }

    [Fact]
    public void MyWorker_BuildsOnTheLibrary_NotOnTheProductionHostOrTheExamples()
    {
        var libraries = Libraries("Lume.Examples.MyWorker");

        Assert.Contains("Lume.Worker", libraries);
        Assert.DoesNotContain("Lume.TaskWorker", libraries);
        Assert.DoesNotContain("Lume.Examples", libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("MongoDB.", StringComparison.Ordinal) || l == "Microsoft.Data.Sqlite");
    }
}

/// <summary>The production worker on a real RabbitMQ: it starts, registers, and offers the built-in tasks and no flows.</summary>
[Collection("RabbitMQ")]
public sealed class StockWorkerTests(ITestOutputHelper output) : ClusterTest(output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task StockWorker_ServesNoExampleFlows_AndRunsAFlowOfBuiltInTasks()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartStockWorkerAsync("stock-1");
        var builtIn = Flow.Define("built_in_only", f =>
        {
            var configure = f.Task("configure_lume_services");
            var saved = f.Task("save_file", new { obj = f.Parameter("text"), filename = "stock.txt", filesystem_identifier = "local", file_type = "TextFile" });
            saved.SetUpstream(configure);
            f.Task("load_file", new { file_rep = saved });
        });
        var example = Flow.Define("needs_an_example_task", f => f.Task("append_text", new { text1 = "a", text2 = "b" }));

        var registered = await RegisterAsync(builtIn);
        var refused = await RegisterAsync(example);
        var run = await (await Cluster.ClientAsync()).RunAsync("built_in_only", null, Parameters(("text", "from the stock worker"))).WaitAsync(Patience);
        var flows = await (await Cluster.ClientAsync()).FlowsAsync();

        Assert.Empty(registered.Problems);
        Assert.Contains(refused.Problems, p => p.Contains("append_text", StringComparison.Ordinal));
        Assert.True(run.Succeeded, run.Failure?.Message);
        Assert.All(run.Snapshot!.Tasks, t => Assert.Equal("stock-1", t.Worker));
        Assert.Equal("from the stock worker", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "stock.txt")));
        Assert.Equal(["built_in_only"], flows.Select(f => f.Name));
    }

    // The worker registers its pool's task types as it starts; a flow registered before that is refused as unknown to the pool.
    async Task<FlowRegistration> RegisterAsync(FlowDefinition flow)
    {
        var services = await Cluster.ClientServicesAsync();
        var client = services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterFlow>();
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var request = await FlowTransfer.RegisterFlowAsync(services.GetRequiredService<IMessageDataRepository>(), flow, "default", timeout.Token);
            var answer = (await client.GetResponse<FlowRegistration>(request, timeout.Token)).Message;
            if (!answer.Problems.Any(p => p.Contains("has registered yet", StringComparison.Ordinal)))
                return answer;
            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token);
        }
    }
}
