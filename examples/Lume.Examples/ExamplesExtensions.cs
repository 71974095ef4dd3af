using Lume.Hosting;
using Lume.Tasks;
using Microsoft.Extensions.Hosting;

namespace Lume.Examples;

/// <summary>Adds the example flows and their tasks to a host.</summary>
public static class ExamplesExtensions
{
    public static IHostApplicationBuilder AddLumeExamples(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddLumeTask("append_text", ExampleTasks.AppendText);
        services.AddLumeTask("repeat_text", ExampleTasks.RepeatText);
        services.AddLumeTask("check_text_equivalence", ExampleTasks.CheckTextEquivalence);
        services.AddLumeTask("raise_error", ExampleTasks.RaiseError);
        services.AddLumeTask("make_text_result", ExampleTasks.MakeTextResult);
        services.AddLumeTask("increment", ExampleTasks.Increment);
        services.AddLumeTask("identity", ExampleTasks.Identity);
        services.AddLumeTask("square", ExampleTasks.Square);
        services.AddLumeTask("sum", ExampleTasks.Sum);
        services.AddLumeTask<GatherTask>("gather");
        services.AddLumeTask<SlowSaveTextTask>("slow_save_text");
        services.AddLumeTask<ChaosStepTask>("chaos_step");
        foreach (var flow in ExampleFlows.All.Concat(SemanticsFlows.All).Concat(ScaleFlows.All).Concat(ChaosFlows.All))
            services.AddLumeFlow(flow);
        return builder;
    }
}
