using System.Text.Json;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>A test with a <see cref="Integration.Tests.Cluster"/> of its own, whose services' output is written to the test's output at the end.</summary>
public abstract class ClusterTest(ITestOutputHelper output) : IAsyncLifetime
{
    protected Cluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await Cluster.CreateAsync();

    public async Task DisposeAsync()
    {
        output.WriteLine(Cluster.Logs);
        await Cluster.DisposeAsync();
    }

    protected ITestOutputHelper Output => output;

    protected static Dictionary<string, JsonElement> Parameters(params (string Name, object Value)[] values) =>
        values.ToDictionary(v => v.Name, v => JsonSerializer.SerializeToElement(v.Value));
}
