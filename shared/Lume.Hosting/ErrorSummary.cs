using Serilog.Core;
using Serilog.Events;

namespace Lume.Hosting;

/// <summary>
/// An event's exception as one line: its type and message, and those of its inner exceptions. Text logs show this
/// instead of the stack trace above Debug level: a user acts on what went wrong, not on where in .NET it surfaced.
/// </summary>
sealed class ErrorSummary : ILogEventEnricher
{
    public const string Property = "ErrorSummary";

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        if (logEvent.Exception is null)
            return;
        var parts = new List<string>();
        for (var e = logEvent.Exception; e is not null && parts.Count < 4; e = e.InnerException)
            parts.Add($"{e.GetType().Name}: {e.Message}");
        logEvent.AddPropertyIfAbsent(new LogEventProperty(Property, new ScalarValue("  " + string.Join(" ---> ", parts) + Environment.NewLine)));
    }
}
