using System.Text.Json;
using Lume.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Worker.Tests.Tasks;

public class TaskRegistryTests
{
    sealed record Point(double X, double Y);

    sealed class Greeter : ILumeTask
    {
        public Task<object?> RunAsync(TaskArguments arguments, TaskContext context) =>
            Task.FromResult<object?>($"hello {arguments.Get<string>("name")} from {context.TaskSlug}");
    }

    static (TaskRegistry Registry, IServiceProvider Services) Registry(Action<IServiceCollection> add)
    {
        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        add(services);
        var provider = services.BuildServiceProvider();
        return (new TaskRegistry(provider.GetServices<TaskRegistration>()), provider);
    }

    static async Task<JsonElement> RunAsync(Action<IServiceCollection> add, string type, object arguments)
    {
        var (registry, services) = Registry(add);
        var inputs = JsonSerializer.SerializeToElement(arguments).EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        return await registry.RunAsync(inputs, new TaskContext(Guid.NewGuid(), "flow", "the_task", type, 1, services, CancellationToken.None));
    }

    [Fact]
    public async Task DelegateTask_BindsArgumentsByName()
    {
        var result = await RunAsync(s => s.AddLumeTask("append", (string text1, string text2) => text1 + text2), "append", new { text2 = "World", text1 = "Hello" });

        Assert.Equal("HelloWorld", result.GetString());
    }

    [Fact]
    public async Task DelegateTask_UsesDefaults_Context_AndServices_AndAwaitsAsyncResults()
    {
        var result = await RunAsync(
            s => s.AddLumeTask("async", async (int n, TaskContext context, TimeProvider time, CancellationToken token, int step = 10) =>
            {
                await Task.Delay(1, token);
                return new { total = n + step, slug = context.TaskSlug, clock = time == TimeProvider.System };
            }),
            "async",
            new { n = 5 });

        Assert.Equal(15, result.GetProperty("total").GetInt32());
        Assert.Equal("the_task", result.GetProperty("slug").GetString());
        Assert.True(result.GetProperty("clock").GetBoolean());
    }

    [Fact]
    public async Task DelegateTask_ReturningValueTask_IsAwaited()
    {
        var result = await RunAsync(s => s.AddLumeTask("vt", (Point p) => new ValueTask<double>(p.X * p.Y)), "vt", new { p = new { x = 2.0, y = 4.5 } });

        Assert.Equal(9.0, result.GetDouble());
    }

    [Fact]
    public async Task ClassTask_IsResolvedAndRun()
    {
        var result = await RunAsync(s => s.AddLumeTask<Greeter>("greet"), "greet", new { name = "Ada" });

        Assert.Equal("hello Ada from the_task", result.GetString());
    }

    [Theory]
    [InlineData("""{"text1":"a"}""", "argument 'text2' is missing")]
    [InlineData("""{"text1":"a","text2":5}""", "argument 'text2' should be a string but is a number")]
    [InlineData("""{"text1":"a","text2":"b","extra":1}""", "takes no argument 'extra'")]
    public async Task DelegateTask_WithBadArguments_FailsNamingTheTaskAndArgument(string json, string expected)
    {
        var (registry, services) = Registry(s => s.AddLumeTask("append", (string text1, string text2) => text1 + text2));
        var inputs = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

        var error = await Assert.ThrowsAsync<TaskFailedException>(() =>
            registry.RunAsync(inputs, new TaskContext(Guid.NewGuid(), "f", "my_slug", "append", 1, services, CancellationToken.None)));

        Assert.Equal("TaskArgumentError", error.ErrorType);
        Assert.Contains("task 'my_slug'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownTaskType_FailsListingTheOfferedTypes()
    {
        var error = await Assert.ThrowsAsync<TaskFailedException>(() =>
            RunAsync(s => s.AddLumeTask("b", () => 1).AddLumeTask("a", () => 2), "zzz", new { }));

        Assert.Equal("UnknownTaskType", error.ErrorType);
        Assert.Contains("'zzz'", error.Message, StringComparison.Ordinal);
        Assert.Contains("a, b", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResultThatIsNotJson_Fails()
    {
        var error = await Assert.ThrowsAsync<TaskFailedException>(() => RunAsync(s => s.AddLumeTask("nan", () => double.NaN), "nan", new { }));

        Assert.Equal(TaskRegistry.InvalidResult, error.ErrorType);
        Assert.Contains("task 'the_task'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RegisteringATypeTwice_IsAnError()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Registry(s => s.AddLumeTask("x", () => 1).AddLumeTask("x", () => 2)));

        Assert.Contains("'x'", error.Message, StringComparison.Ordinal);
    }
}
