using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>What an event did to a run: whether it changed, and the messages to publish once the change is stored.</summary>
public sealed record Step(bool Changed, IReadOnlyList<object> Messages)
{
    public static readonly Step Unchanged = new(false, []);
}

/// <summary>
/// The DAG progression, free of any bus or store so tests call it directly. Every method is idempotent:
/// an event that was already applied (a duplicate delivery) or that no longer applies (a stale attempt, a
/// finished run) changes nothing and releases nothing.
/// </summary>
public static class RunProgression
{
    /// <summary>A new run with every task pending, then the tasks without upstreams made ready.</summary>
    public static (RunRecord Run, Step Step) Start(
        Guid runId, FlowDefinition flow, string pool, IReadOnlyDictionary<string, JsonElement> parameters, DateTimeOffset now, string? traceParent = null)
    {
        var run = new RunRecord
        {
            RunId = runId,
            Flow = flow,
            Pool = pool,
            TraceParent = traceParent,
            Parameters = parameters,
            CreatedAt = now,
            State = RunState.Running,
            Tasks = flow.Tasks.ToDictionary(
                t => t.Slug,
                t => new TaskRecord { Slug = t.Slug, Type = t.Type, State = TaskState.Pending },
                StringComparer.Ordinal),
        };
        var messages = new List<object> { new RunAccepted(runId, flow.Name, flow.Version, flow.Tasks.Count, now) };
        foreach (var task in flow.Tasks.Where(t => !FlowDefinition.UpstreamOf(t).Any()))
            messages.Add(MakeReady(run, run.Tasks[task.Slug], now));
        return (run, new Step(true, messages));
    }

    /// <summary>A worker picked the task up.</summary>
    public static Step TaskStarted(RunRecord run, TaskStarted message)
    {
        if (run.IsFinished || !run.Tasks.TryGetValue(message.TaskSlug, out var task))
            return Step.Unchanged;
        // Only a ready task of the same attempt moves on; a late TaskStarted after its TaskCompleted is ignored.
        if (task.State != TaskState.Ready || task.Attempt != message.Attempt)
            return Step.Unchanged;
        run.Transition(task, TaskState.Running);
        task.StartedAt = message.StartedAt;
        task.Worker = message.Worker;
        return new Step(true, []);
    }

    /// <summary>Records the result, releases every downstream task whose upstreams are now all complete, and ends the run when nothing is left.</summary>
    public static Step TaskCompleted(RunRecord run, TaskCompleted message, DateTimeOffset now)
    {
        if (!Applies(run, message.TaskSlug, message.Attempt, out var task))
            return Step.Unchanged;
        run.Transition(task, TaskState.Completed);
        task.Result = message.Result;
        task.Worker = message.Worker;
        task.StartedAt ??= message.StartedAt;
        task.FinishedAt = message.FinishedAt;

        var messages = new List<object>();
        foreach (var slug in run.DownstreamOf(task.Slug))
        {
            var next = run.Tasks[slug];
            if (next.State == TaskState.Pending && UpstreamsComplete(run, slug))
                messages.Add(MakeReady(run, next, now));
        }

        FinishIfDone(run, now, messages);
        return new Step(true, messages);
    }

    /// <summary>Records the failure and skips everything downstream of it; other branches go on, and the run fails once nothing is left.</summary>
    public static Step TaskFailed(RunRecord run, TaskFailed message, DateTimeOffset now)
    {
        if (!Applies(run, message.TaskSlug, message.Attempt, out var task))
            return Step.Unchanged;
        run.Transition(task, TaskState.Failed);
        task.ErrorType = message.ErrorType;
        task.Error = message.Message;
        task.Worker = message.Worker;
        task.FinishedAt = message.FinishedAt;
        if (run.FailedTask is null)
        {
            run.FailedTask = task.Slug;
            run.Error = $"{message.ErrorType}: {message.Message}";
        }

        var toSkip = new Stack<string>(run.DownstreamOf(task.Slug));
        while (toSkip.TryPop(out var slug))
        {
            var next = run.Tasks[slug];
            if (next.State != TaskState.Pending)
                continue;
            run.Transition(next, TaskState.Skipped);
            next.FinishedAt = now;
            foreach (var further in run.DownstreamOf(slug))
                toSkip.Push(further);
        }

        var messages = new List<object>();
        FinishIfDone(run, now, messages);
        return new Step(true, messages);
    }

    /// <summary>
    /// The messages an already-applied event caused, for when its delivery is repeated after a crash that
    /// came between storing the change and publishing. Tasks still waiting for a worker are released again;
    /// a finished run is announced again.
    /// </summary>
    public static IReadOnlyList<object> Resume(RunRecord run, string? afterTask, DateTimeOffset now)
    {
        var messages = new List<object>();
        if (run.IsFinished)
        {
            messages.Add(Ending(run, run.FinishedAt ?? now));
            return messages;
        }

        var candidates = afterTask is null
            ? run.Flow.Tasks.Where(t => !FlowDefinition.UpstreamOf(t).Any()).Select(t => t.Slug)
            : run.DownstreamOf(afterTask);
        foreach (var slug in candidates)
        {
            var task = run.Tasks[slug];
            if (task.State == TaskState.Ready)
                messages.Add(ReadyMessage(run, task, task.ReadyAt ?? now));
        }

        return messages;
    }

    static bool Applies(RunRecord run, string slug, int attempt, out TaskRecord task)
    {
        task = null!;
        if (run.IsFinished || !run.Tasks.TryGetValue(slug, out var found))
            return false;
        task = found;
        // First report of the current attempt wins; duplicates and reports of earlier attempts are ignored.
        return found.Attempt == attempt && found.State is TaskState.Ready or TaskState.Running;
    }

    static bool UpstreamsComplete(RunRecord run, string slug) => run.WaitingOn(slug) == 0;

    static TaskReady MakeReady(RunRecord run, TaskRecord task, DateTimeOffset now)
    {
        run.Transition(task, TaskState.Ready);
        task.Attempt += 1;
        task.ReadyAt = now;
        return ReadyMessage(run, task, now);
    }

    static TaskReady ReadyMessage(RunRecord run, TaskRecord task, DateTimeOffset readyAt)
    {
        var node = run.Node(task.Slug);
        var inputs = TaskInputs.Resolve(node, run.Parameters, slug => run.Tasks[slug].Result!.Value);
        return new TaskReady(run.RunId, run.Flow.Name, task.Slug, task.Type, task.Attempt, inputs, readyAt);
    }

    static void FinishIfDone(RunRecord run, DateTimeOffset now, List<object> messages)
    {
        if (run.Unfinished > 0)
            return;
        run.State = run.FailedTask is null ? RunState.Completed : RunState.Failed;
        run.FinishedAt = now;
        messages.Add(Ending(run, now));
    }

    static object Ending(RunRecord run, DateTimeOffset finishedAt) => run.State == RunState.Completed
        ? new RunCompleted(run.RunId, run.Flow.Name, run.CreatedAt, finishedAt)
        : new RunFailed(run.RunId, run.Flow.Name, RunFailureKind.TaskFailed, run.FailedTask, "FlowFailed",
            $"run {run.RunId} of flow '{run.Flow.Name}' failed in task '{run.FailedTask}': {run.Error}", [], finishedAt);
}
