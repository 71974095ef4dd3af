using System.Text.Json;
using Lume.Contracts;
using Lume.Tasks;
using MassTransit;

namespace Lume.TaskWorker.BuiltIn;

/// <summary><c>save_db_result</c>: stores <c>result</c> (flow_id, inputs, outputs, ...) with the Results service and returns the result rep.</summary>
public sealed class SaveDbResultTask(IRequestClient<StoreResult> results) : ILumeTask
{
    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var response = await results.GetResponse<ResultStored, ResultRequestFailed>(new StoreResult(arguments.Get<JsonElement>("result")), context.CancellationToken);
        return response.Message switch
        {
            ResultStored stored => stored.Rep,
            ResultRequestFailed failed => throw new TaskFailedException(failed.ErrorType, $"task '{context.TaskSlug}': {failed.Message}"),
            var other => throw new InvalidOperationException($"unexpected answer {other.GetType().Name} to StoreResult"),
        };
    }
}

/// <summary>
/// <c>load_db_result</c>: loads the result a <c>result_rep</c> finds; with <c>attribute_index</c> (e.g. <c>["outputs", "output1"]</c>)
/// returns only that value.
/// </summary>
public sealed class LoadDbResultTask(IRequestClient<LoadResult> results) : ILumeTask
{
    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var index = arguments.Get<JsonElement[]?>("attribute_index", null);
        var response = await results.GetResponse<ResultLoaded, ResultRequestFailed>(
            new LoadResult(arguments.Get<JsonElement>("result_rep"), index), context.CancellationToken);
        return response.Message switch
        {
            ResultLoaded loaded => loaded.Value,
            ResultRequestFailed failed => throw new TaskFailedException(failed.ErrorType, $"task '{context.TaskSlug}': {failed.Message}"),
            var other => throw new InvalidOperationException($"unexpected answer {other.GetType().Name} to LoadResult"),
        };
    }
}

/// <summary><c>load_file</c>: reads the file a <c>file_rep</c> names through the FileService and returns its content as JSON.</summary>
public sealed class LoadFileTask(IRequestClient<LoadFile> files) : ILumeTask
{
    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var rep = arguments.Get<FileRep>("file_rep");
        if (rep is null || rep.Filename is null || rep.FileTypeString is null || rep.FilesystemIdentifier is null)
            throw new TaskFailedException("TaskArgumentError",
                $"task '{context.TaskSlug}': argument 'file_rep' must be a file rep with filename, file_type_string and filesystem_identifier");
        var response = await files.GetResponse<FileLoaded, FileRequestFailed>(new LoadFile(rep), context.CancellationToken);
        return response.Message switch
        {
            FileLoaded loaded => loaded.Obj,
            FileRequestFailed failed => throw new TaskFailedException(failed.ErrorType, $"task '{context.TaskSlug}': {failed.Message}"),
            var other => throw new InvalidOperationException($"unexpected answer {other.GetType().Name} to LoadFile"),
        };
    }
}
