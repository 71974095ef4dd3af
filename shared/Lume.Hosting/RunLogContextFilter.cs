using System.Reflection;
using MassTransit;
using SerilogContext = Serilog.Context.LogContext;

namespace Lume.Hosting;

/// <summary>
/// While a message of a run is consumed, every log line carries its <c>RunId</c> (and <c>TaskSlug</c>, when the message
/// names a task), so the lines of one run can be filtered out of any service's log.
/// </summary>
sealed class RunLogContextFilter<T> : IFilter<ConsumeContext<T>>
    where T : class
{
    static readonly PropertyInfo? RunId = typeof(T).GetProperty("RunId");
    static readonly PropertyInfo? TaskSlug = typeof(T).GetProperty("TaskSlug");

    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        using var run = RunId is null ? null : SerilogContext.PushProperty("RunId", RunId.GetValue(context.Message));
        using var task = TaskSlug is null ? null : SerilogContext.PushProperty("TaskSlug", TaskSlug.GetValue(context.Message));
        await next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("runLogContext");
}
