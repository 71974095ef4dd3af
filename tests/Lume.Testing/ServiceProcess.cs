using System.Diagnostics;
using System.Text;

namespace Lume.Testing;

/// <summary>One Lume service as its own OS process, started from its built dll, with its output kept for diagnosis.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();
    readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    ServiceProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    // Each service's project folder: a service runs from its own build output, with its own dependencies, as it is
    // deployed. Beside the tests (or the bench) it would take the dependencies of whatever they reference: once one of
    // those is on the ASP.NET Core framework (the CLI, for lume ui), the packages that framework holds are left out of
    // that folder, and a service on the plain runtime cannot start there.
    static readonly Dictionary<string, string> Projects = new()
    {
        ["Lume.Scheduler"] = "services/Scheduler",
        ["Lume.TaskWorker"] = "services/TaskWorker",
        ["Lume.FileService"] = "services/FileService",
        ["Lume.Results"] = "services/Results",
        ["Lume.Gateway"] = "services/Gateway",
        ["Lume.Examples.Worker"] = "examples/ExamplesWorker",
        ["Lume.Examples.MyWorker"] = "examples/MyWorker",
    };

    /// <summary>The folder a service's project builds it to (in the configuration these tests were built in), or null for an assembly that is not a service.</summary>
    public static string? BuildOutputOf(string assembly)
    {
        if (!Projects.TryGetValue(assembly, out var project))
            return null;
        var metadata = typeof(ServiceProcess).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        return Path.Combine(metadata["LumeRoot"]!, project, metadata["LumeBuildOutput"]!);
    }

    /// <summary>Starts <c>{assembly}.dll</c> and waits for its "Started on" (or "Standing by") line.</summary>
    /// <param name="assemblyDirectory">Where the dll is; default: its project's build output (<see cref="BuildOutputOf"/>), else beside the tests.</param>
    public static async Task<ServiceProcess> StartAsync(string name, string assembly, IReadOnlyDictionary<string, string> environment, string workingDirectory,
        string? assemblyDirectory = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory.CreateDirectory(workingDirectory).FullName,
        };
        start.ArgumentList.Add(Path.Combine(assemblyDirectory ?? BuildOutputOf(assembly) ?? AppContext.BaseDirectory, $"{assembly}.dll"));
        foreach (var (key, value) in environment)
            start.Environment[key] = value;

        var service = new ServiceProcess(name, new Process { StartInfo = start, EnableRaisingEvents = true });
        service._process.OutputDataReceived += (_, e) => service.Record(e.Data);
        service._process.ErrorDataReceived += (_, e) => service.Record(e.Data);
        service._process.Exited += (_, _) => _ = service.ReportEarlyExitAsync();
        service._process.Start();
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();
        await service._ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return service;
    }

    // Exited can fire before the last lines are read; WaitForExitAsync also waits for the redirected streams to end, so
    // the message carries the reason the process gave for exiting. An exit after it was ready is the test's business.
    async Task ReportEarlyExitAsync()
    {
        if (_ready.Task.IsCompleted)
            return;
        try
        {
            await _process.WaitForExitAsync();
            _ready.TrySetException(new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before it was ready:\n{Output}"));
        }
        catch (InvalidOperationException)
        {
            // Disposed meanwhile: the test gave up on it already.
        }
    }

    void Record(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
        // A standby Scheduler is up too, though its bus waits until it takes over.
        if (line.Contains("Started on", StringComparison.Ordinal) || line.Contains("Standing by", StringComparison.Ordinal))
            _ready.TrySetResult();
    }

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until the process exits by itself.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>kill -9: the process gets no chance to finish anything.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>Sends a signal, e.g. STOP (the process hangs, its connections stay open) or CONT.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await SignalAsync("CONT"); // a stopped process would not die of SIGKILL before it is continued on some kernels
            await KillAsync();
        }
        _process.Dispose();
    }
}
