using System.Text.Json;
using Lume.Worker.BuiltIn;
using Lume.Tasks;
using Microsoft.Extensions.Configuration;

namespace Lume.Worker.Tests.BuiltIn;

public class ConfigureLumeServicesTests
{
    static Task<object?> RunAsync(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var context = new TaskContext(Guid.NewGuid(), "f", "configure_lume_services", "configure_lume_services", 1, null!, CancellationToken.None);
        return new ConfigureLumeServices(configuration).RunAsync(new TaskArguments("configure_lume_services", new Dictionary<string, JsonElement>()), context);
    }

    [Fact]
    public async Task WithNothingConfigured_Succeeds()
    {
        var result = JsonSerializer.SerializeToElement(await RunAsync([]));

        Assert.Equal(0, result.GetProperty("configured").GetArrayLength());
    }

    [Fact]
    public async Task WithAPartlyConfiguredGroup_FailsListingEveryMissingVariable()
    {
        var error = await Assert.ThrowsAsync<TaskFailedException>(() => RunAsync(new()
        {
            ["MOUNTED_FILESYSTEM:IDENTIFIER"] = "mounted",
            ["RESULTS_DB:PASSWORD"] = "hunter2",
        }));

        Assert.Equal("EnvironmentNotConfigured", error.ErrorType);
        foreach (var missing in new[]
                 {
                     "LUME_MOUNTED_FILESYSTEM__MOUNT_PATH", "LUME_MOUNTED_FILESYSTEM__MOUNT_ALIAS",
                     "LUME_RESULTS_DB__HOST", "LUME_RESULTS_DB__PORT", "LUME_RESULTS_DB__DATABASE", "LUME_RESULTS_DB__USERNAME",
                 })
            Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LUME_MOUNTED_FILESYSTEM__IDENTIFIER", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WhenComplete_NamesTheSetVariables_ButNeverTheirValues()
    {
        var result = JsonSerializer.Serialize(await RunAsync(new()
        {
            ["RESULTS_DB:HOST"] = "db.example",
            ["RESULTS_DB:PORT"] = "27017",
            ["RESULTS_DB:DATABASE"] = "results",
            ["RESULTS_DB:USERNAME"] = "lume",
            ["RESULTS_DB:PASSWORD"] = "hunter2",
        }));

        Assert.Contains("LUME_RESULTS_DB__PASSWORD", result, StringComparison.Ordinal);
        Assert.Contains("LUME_RESULTS_DB__HOST", result, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result, StringComparison.Ordinal);
        Assert.DoesNotContain("db.example", result, StringComparison.Ordinal);
    }
}
