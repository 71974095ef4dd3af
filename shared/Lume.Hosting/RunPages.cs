using Lume.Contracts;
using MassTransit;

namespace Lume.Hosting;

/// <summary>How a client reads a whole run: its tasks a page at a time (the CLI, the HTTP API).</summary>
public static class RunPages
{
    /// <summary>How many tasks one answer to <see cref="GetRun"/> holds at most.</summary>
    /// <remarks>
    /// An answer is made whole before it is sent: a page of 5,000 tasks was 2.6 MB of JSON, written into buffers that
    /// doubled up to 4 MB, and a 100,000-task run's 20 pages left tens of megabytes of them for the Scheduler's next full
    /// collection. 1,000 tasks is about half a megabyte.
    /// </remarks>
    public const int TaskPage = 1_000;

    /// <summary>
    /// The run with every task, or null when the Scheduler does not know it. One answer for all 100,000 tasks of a big run
    /// would be tens of megabytes, held whole by the Scheduler and by the client, and over RabbitMQ's message size limit
    /// for big enough results. The pages of a running run are each read in one turn of the run, and may differ in time
    /// by as much as they take to read.
    /// </summary>
    public static async Task<RunSnapshot?> ReadRunAsync(this IRequestClient<GetRun> client, Guid runId, CancellationToken cancellationToken)
    {
        var first = (await client.GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId, TaskLimit: TaskPage), cancellationToken)).Message as RunSnapshot;
        if (first is null || first.Tasks.Count >= first.TaskCount)
            return first;
        var tasks = new List<TaskSnapshot>(first.TaskCount);
        tasks.AddRange(first.Tasks);
        var last = first;
        while (tasks.Count < last.TaskCount)
        {
            if ((await client.GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId, TaskOffset: tasks.Count, TaskLimit: TaskPage), cancellationToken)).Message
                is not RunSnapshot page || page.Tasks.Count == 0)
                break;
            tasks.AddRange(page.Tasks);
            last = page;
        }

        return last with { Tasks = tasks, TaskCount = Math.Max(last.TaskCount, tasks.Count) };
    }
}
