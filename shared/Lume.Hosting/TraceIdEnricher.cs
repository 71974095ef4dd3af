using System.Diagnostics;
using Serilog.Core;
using Serilog.Events;

namespace Lume.Hosting;

/// <summary>Adds the current trace id to every log event, so the lines of a run can be found from its trace and back.</summary>
sealed class TraceIdEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        if (Activity.Current is { } activity)
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("TraceId", activity.TraceId.ToHexString()));
    }
}
