using System.Diagnostics;
using System.Text.Json;

namespace Lume.Bench;

/// <summary>Celery 5 from Debian's python3-celery, run by Debian's own interpreter, with a worker on the same broker.</summary>
static class Celery
{
    const string Python = "/usr/bin/python3";

    const string Tasks = """
        import os
        from celery import Celery
        app = Celery("benchtasks", broker=os.environ["BROKER"], backend="rpc://")
        @app.task
        def inc(x):
            return x + 1
        @app.task
        def noop(x):
            return x
        """;

    const string Driver = """
        import json, sys, time
        from celery import chain, group
        from benchtasks import inc, noop
        steps, width, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        inc.delay(0).get(timeout=120)
        start = time.perf_counter()
        assert chain(inc.s(0), *[inc.s() for _ in range(steps - 1)])().get(timeout=900) == steps
        chain_s = time.perf_counter() - start
        start = time.perf_counter()
        group(noop.s(i) for i in range(width))().get(timeout=900)
        group_s = time.perf_counter() - start
        # Many small chains at once; each one's end is taken when its result is read, in the order submitted (they end
        # in about that order), from the time it was submitted.
        submitted, results = [], []
        start = time.perf_counter()
        for _ in range(runs):
            submitted.append(time.perf_counter())
            results.append(chain(inc.s(0), inc.s(), inc.s())())
        latencies = []
        for at, result in zip(submitted, results):
            assert result.get(timeout=900) == 3
            latencies.append((time.perf_counter() - at) * 1000)
        chains_s = time.perf_counter() - start
        latencies.sort()
        print(json.dumps({"chain_step_ms": chain_s * 1000 / steps, "group_tps": width / group_s, "chains_per_s": runs / chains_s,
                          "chains_p50_ms": latencies[len(latencies) // 2], "chains_p99_ms": latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)]}))
        """;

    /// <summary>Installs python3-celery when missing; null (and why) when Celery cannot be had here.</summary>
    public static async Task<string?> EnsureInstalledAsync()
    {
        if (await RunAsync(Python, ["-c", "import celery"], null, TimeSpan.FromMinutes(1)) is { ExitCode: 0 })
            return null;
        var install = await RunAsync("apt-get", ["install", "-y", "-qq", "python3-celery"], null, TimeSpan.FromMinutes(5));
        if (install.ExitCode != 0)
            await RunAsync("apt-get", ["update", "-qq"], null, TimeSpan.FromMinutes(5));
        install = await RunAsync("apt-get", ["install", "-y", "-qq", "python3-celery"], null, TimeSpan.FromMinutes(5));
        return install.ExitCode == 0 && await RunAsync(Python, ["-c", "import celery"], null, TimeSpan.FromMinutes(1)) is { ExitCode: 0 }
            ? null
            : $"python3-celery could not be installed: {install.Output.Trim().Split('\n').LastOrDefault()}";
    }

    /// <summary>What Celery measured: a chain's step, a group's rate, and many small chains submitted at once.</summary>
    public sealed record Measured(double ChainStepMs, double GroupTps, double ChainsPerSecond, double ChainsP50Ms, double ChainsP99Ms);

    /// <summary>Measures with one worker of two processes.</summary>
    public static async Task<Measured> MeasureAsync(string brokerUrl, int steps, int width, int runs)
    {
        var dir = Directory.CreateTempSubdirectory("lume-bench-celery-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "benchtasks.py"), Tasks);
            await File.WriteAllTextAsync(Path.Combine(dir, "driver.py"), Driver);
            var environment = new Dictionary<string, string> { ["BROKER"] = brokerUrl, ["PYTHONPATH"] = dir };
            using var worker = Start(Python, ["-m", "celery", "-A", "benchtasks", "worker", "--concurrency=2", "--loglevel=WARNING", "--without-gossip", "--without-mingle"], dir, environment);
            try
            {
                string[] arguments = [Path.Combine(dir, "driver.py"), .. new[] { steps, width, runs }.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))];
                var result = await RunAsync(Python, arguments, environment, TimeSpan.FromMinutes(20), dir);
                if (result.ExitCode != 0)
                    throw new InvalidOperationException($"the Celery driver failed: {result.Output}");
                var json = JsonSerializer.Deserialize<JsonElement>(result.Output.Trim().Split('\n').Last());
                double Figure(string name) => json.GetProperty(name).GetDouble();
                return new Measured(Figure("chain_step_ms"), Figure("group_tps"), Figure("chains_per_s"), Figure("chains_p50_ms"), Figure("chains_p99_ms"));
            }
            finally
            {
                worker.Kill(entireProcessTree: true);
                await worker.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static Process Start(string file, string[] arguments, string directory, Dictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? [])
            start.Environment[key] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, Dictionary<string, string>? environment, TimeSpan timeout, string? directory = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory ?? Environment.CurrentDirectory };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? [])
            start.Environment[key] = value;
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var cancel = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(cancel.Token);
            return (process.ExitCode, await output + await errors);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException)
        {
            return (-1, e.Message);
        }
    }
}
