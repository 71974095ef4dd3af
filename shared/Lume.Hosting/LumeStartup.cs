using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Hosting;

/// <summary>
/// Lume cannot start or go on because of its setup (a setting, a data folder, a store file), with a message that names
/// the <c>LUME_*</c> variable or the file at fault and what to do. Hosts print it as one line, without a stack trace.
/// </summary>
public class LumeStartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Stops the host when it cannot go on without losing what it records (its store file was removed or damaged under
/// it). The first reason is kept, so a command can say it instead of a later consequence, and the exit code is 3.
/// </summary>
public sealed class LumeFatal(IHostApplicationLifetime lifetime, ILogger<LumeFatal> logger, bool log = true)
{
    string? _reason;

    /// <summary>Why the host stopped, or null while it runs normally.</summary>
    public string? Reason => Volatile.Read(ref _reason);

    public void Stop(string reason)
    {
        if (Interlocked.CompareExchange(ref _reason, reason, null) is not null)
            return;
        if (log)
            logger.LogCritical("{Reason}", reason);
        Environment.ExitCode = 3;
        lifetime.StopApplication();
    }
}

/// <summary>Runs a service host, turning a setup error into lines on stderr and exit code 3 instead of a stack trace.</summary>
public static class LumeStartup
{
    /// <summary>The exit code of a host that could not start or had to stop (the CLI's "could not start").</summary>
    public const int CouldNotStart = 3;

    /// <summary>Builds and runs the host; returns the process's exit code.</summary>
    public static int RunLume(this IHostApplicationBuilder builder)
    {
        try
        {
            ((HostApplicationBuilder)builder).Build().Run();
            return Environment.ExitCode;
        }
        catch (Exception e) when (Describe(e) is { } lines)
        {
            foreach (var line in lines)
                Console.Error.WriteLine($"error: {line}");
            return CouldNotStart;
        }
    }

    /// <summary>The lines that say what is wrong with the setup, or null when <paramref name="exception"/> is not a setup error (a bug, which keeps its stack trace).</summary>
    public static IReadOnlyList<string>? Describe(Exception exception) => exception switch
    {
        OptionsValidationException invalid => invalid.Failures.Select(f => $"configuration: {f}").ToArray(),
        LumeStartupException startup => [startup.Message],
        AggregateException many when many.InnerExceptions.Select(Describe).ToArray() is var all && all.All(d => d is not null) =>
            all.SelectMany(d => d!).Distinct().ToArray(),
        _ => null,
    };
}
