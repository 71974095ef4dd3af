using System.Diagnostics;

namespace Lume.Testing;

/// <summary>The local RabbitMQ that <c>scripts/rabbitmq</c> runs; each test cluster gets a virtual host of its own.</summary>
public static class Broker
{
    static readonly Lazy<Task> Started = new(() => ScriptAsync("start"));

    /// <summary>The repository root, found upwards from the test binaries.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    public static Task EnsureRunningAsync() => Started.Value;

    /// <summary>A new virtual host, and the LUME_BROKER address that uses it.</summary>
    public static async Task<(string Name, string Url)> NewVirtualHostAsync()
    {
        await EnsureRunningAsync();
        var name = $"lume-test-{Guid.NewGuid():N}"[..20];
        await ScriptAsync("vhost", "add", name);
        return (name, $"amqp://guest:guest@127.0.0.1:5672/{name}");
    }

    public static Task DeleteVirtualHostAsync(string name) => ScriptAsync("vhost", "delete", name);

    static async Task ScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot, "scripts", "rabbitmq"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"scripts/rabbitmq {string.Join(' ', arguments)} failed ({process.ExitCode}): {await output}{await errors}");
    }

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Lume.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no Lume.sln above {AppContext.BaseDirectory}");
    }
}
