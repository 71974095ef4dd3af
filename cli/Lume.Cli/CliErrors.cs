using Lume.Flows;
using Lume.Hosting;
using Spectre.Console.Cli;

namespace Lume.Cli;

/// <summary>Turns what stops a command into short messages on stderr and an exit code, instead of a stack trace.</summary>
public static class CliErrors
{
    /// <summary>Lume could not start (a setting is invalid, a flow is broken) or a service failed or did not answer.</summary>
    public const int CouldNotStart = 3;

    /// <summary>The command was interrupted (Ctrl+C, SIGTERM), as shells count it.</summary>
    public const int Interrupted = 130;

    public static int Handle(Exception exception, ITypeResolver? resolver)
    {
        switch (exception)
        {
            case CommandAppException usage:
                Console.Error.WriteLine($"error: {usage.Message}");
                return Commands.RunCommand.Rejected;
            case var setup when LumeStartup.Describe(setup) is { } lines:
                foreach (var line in lines)
                    Console.Error.WriteLine($"error: {line}");
                return CouldNotStart;
            case FlowDefinitionException broken:
                foreach (var problem in broken.Problems)
                    Console.Error.WriteLine($"error: {problem}");
                return CouldNotStart;
            case LumeServiceException failed:
                Console.Error.WriteLine($"error: {failed.Message}");
                return CouldNotStart;
            case OperationCanceledException:
                Console.Error.WriteLine("error: interrupted");
                return Interrupted;
            default:
                // A fault Lume did not foresee: its type and message; the stack trace only for whoever debugs (LUME_LOG_LEVEL=Debug).
                Console.Error.WriteLine(Environment.GetEnvironmentVariable("LUME_LOG_LEVEL") is "Debug" or "Verbose"
                    ? $"error: {exception}"
                    : $"error: {exception.GetType().Name}: {exception.Message}");
                return CouldNotStart;
        }
    }
}
