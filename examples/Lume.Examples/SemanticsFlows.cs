using Lume.Flows;

namespace Lume.Examples;

/// <summary>Examples of flow semantics beyond "every task after all of its upstream tasks": triggers and approval.</summary>
public static class SemanticsFlows
{
    /// <summary>
    /// A model step that fails (when <c>fail</c> is true), a cleanup that runs whatever happened, and a notice that runs
    /// only on failure. The run still fails when the step failed: the cleanup and the notice stand aside as reference tasks.
    /// </summary>
    public static readonly FlowDefinition CleanupAfterFailure = Flow.Define("cleanup_after_failure", f =>
    {
        var simulate = f.Task("raise_error", new { message = f.Parameter("message", "the model diverged") }, name: "simulate");
        f.Task("identity", new { value = f.Parameter("cleanup_note", "scratch space removed") }, name: "cleanup")
            .SetUpstream(simulate).Trigger(Trigger.AllFinished);
        f.Task("append_text", new { text1 = "model run failed: ", text2 = f.Parameter("run_name", "nightly") }, name: "notify")
            .SetUpstream(simulate).Trigger(Trigger.AnyFailed);
    });

    /// <summary>A value is prepared, then waits for someone to approve it (<c>lume runs approve RUN_ID publish</c>) before it is published.</summary>
    public static readonly FlowDefinition Approval = Flow.Define("approval", f =>
    {
        var prepare = f.Task("increment", new { value = f.Parameter("value", 41) }, name: "prepare");
        f.Task("identity", new { value = prepare }, name: "publish").Trigger(Trigger.ManualOnly);
    });

    /// <summary>
    /// A branch on where the run executes, as upstream's model template does: one of two tasks runs, the other is
    /// skipped, and <c>where</c> takes the result of the one that ran.
    /// </summary>
    public static readonly FlowDefinition Branch = Flow.Define("branch", f =>
    {
        var text = f.Parameter("text", "result");
        var local = f.Task("check_local_execution");
        TaskRef kept, sent;
        using (f.Case(local, true))
            kept = f.Task("append_text", new { text1 = text, text2 = " kept in this process" }, name: "keep_local");
        using (f.Case(local, false))
            sent = f.Task("append_text", new { text1 = text, text2 = " sent to the workers" }, name: "send_remote");
        f.Merge("where", kept, sent);
    });

    /// <summary>An expensive step whose result is reused for an hour for the same input: the second run shows it cached.</summary>
    public static readonly FlowDefinition Cached = Flow.Define("cached_step", f =>
    {
        var step = f.Task("increment", new { value = f.Parameter("value", 1) }, name: "expensive").Cache(TimeSpan.FromHours(1));
        f.Task("identity", new { value = step }, name: "report");
    });

    /// <summary>
    /// A list known only at run time, one <c>square</c> per element (<c>square[0]</c>, <c>square[1]</c>, ...), then the
    /// sum of their results: <c>lume run map_square -p values:='[1,2,3]'</c> sums to 14.
    /// </summary>
    public static readonly FlowDefinition MapSquare = Flow.Define("map_square", f =>
    {
        var squares = f.Map("square", new { x = f.Parameter("values", new[] { 1, 2, 3 }) });
        f.Task("sum", new { values = squares });
    });

    /// <summary>
    /// A flow that runs map_square as a child run (a subflow) and reports its sum: <c>runs show</c> links the two runs,
    /// and cancelling this run cancels the child.
    /// </summary>
    public static readonly FlowDefinition Subflow = Flow.Define("subflow", f =>
    {
        var sum = f.Subflow("map_square", new { values = f.Parameter("values", new[] { 1, 2, 3 }) }, name: "squares", task: "sum");
        f.Task("identity", new { value = sum }, name: "report");
    });

    public static IReadOnlyList<FlowDefinition> All { get; } = [CleanupAfterFailure, Approval, Branch, Cached, MapSquare, Subflow];
}
