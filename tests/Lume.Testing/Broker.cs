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

    /// <summary>
    /// Starts a RabbitMQ node of its own beside the shared one (its own name, port and data), for a test that stops and
    /// restarts its broker; returns its LUME_BROKER address.
    /// </summary>
    public static async Task<string> StartNodeAsync(string node, int port)
    {
        await EnsureRunningAsync(); // installs the broker, if needed, once
        await NodeScriptAsync(node, port, "start");
        return $"amqp://guest:guest@127.0.0.1:{port}/";
    }

    public static Task StopNodeAsync(string node, int port) => NodeScriptAsync(node, port, "stop");

    /// <summary>
    /// Removes every consumer from a queue inside the broker, and tells neither their channels nor their clients: the
    /// state a broker restart has left a worker in now and then (its channel open, MassTransit's endpoint healthy, and
    /// nothing delivered). <paramref name="node"/> is the node's short name ("rabbit" for the shared broker).
    /// </summary>
    public static async Task DropConsumersAsync(string virtualHost, string queue, string node = "rabbit")
    {
        var (exitCode, output, errors) = await RabbitMqCtlAsync(node, "eval",
            $"{{ok, Q}} = rabbit_amqqueue:lookup(rabbit_misc:r(<<\"{virtualHost}\">>, queue, <<\"{queue}\">>)), " +
            "[gen_server2:call(amqqueue:get_pid(Q), {basic_cancel, Ch, Tag, undefined, <<\"lume-test\">>}, infinity) " +
            "|| {Ch, Tag, _, _, _, _, _, _} <- rabbit_amqqueue:consumers(Q)].");
        if (exitCode != 0 || !output.Contains("ok", StringComparison.Ordinal))
            throw new InvalidOperationException($"dropping the consumers of {queue} failed ({exitCode}): {output}{errors}");
    }

    /// <summary>The names of the queues in a virtual host of the shared broker.</summary>
    public static async Task<IReadOnlyList<string>> QueuesAsync(string virtualHost) => [.. (await ReadyMessagesAsync(virtualHost)).Keys];

    /// <summary>The messages waiting to be delivered (not those delivered and not yet acknowledged) in each queue of a virtual host.</summary>
    public static async Task<IReadOnlyDictionary<string, long>> ReadyMessagesAsync(string virtualHost)
    {
        var (exitCode, output, errors) = await RabbitMqCtlAsync("rabbit", "-q", "list_queues", "-p", virtualHost, "--no-table-headers", "name", "messages_ready");
        if (exitCode != 0)
            throw new InvalidOperationException($"listing the queues of {virtualHost} failed ({exitCode}): {errors}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('\t', ' '))
            .ToDictionary(f => f[0], f => long.Parse(f[^1], System.Globalization.CultureInfo.InvariantCulture));
    }

    // rabbitmqctl against a node of this machine (its short name: "rabbit" for the shared broker).
    static async Task<(int ExitCode, string Output, string Errors)> RabbitMqCtlAsync(string node, params string[] arguments)
    {
        await EnsureRunningAsync();
        var start = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-n", $"{node}@localhost" }.Concat(arguments))
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await errors);
    }

    static Task NodeScriptAsync(string node, int port, string command) =>
        ScriptAsync(new Dictionary<string, string>
        {
            ["LUME_RABBITMQ_NODE"] = node,
            ["LUME_RABBITMQ_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, command);

    static Task ScriptAsync(params string[] arguments) => ScriptAsync(new Dictionary<string, string>(), arguments);

    static async Task ScriptAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot, "scripts", "rabbitmq"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
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
