using System.Text.Json;
using Lume.Contracts;
using Lume.Tasks;
using MassTransit;

namespace Lume.Worker.BuiltIn;

/// <summary>
/// <c>save_db_result</c>: stores <c>result</c> (flow_id, inputs, outputs, ...) with the Results service and returns the
/// result rep. A result without <c>flow_id</c> gets the run's flow name, as upstream filled in its flow's id.
/// </summary>
public sealed class SaveDbResultTask(IRequestClient<StoreResult> results) : ILumeTask
{
    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var result = arguments.Get<JsonElement>("result");
        if (result.ValueKind == JsonValueKind.Object && !result.TryGetProperty("flow_id", out _))
        {
            var filled = System.Text.Json.Nodes.JsonObject.Create(result)!;
            filled["flow_id"] = context.Flow;
            result = JsonSerializer.SerializeToElement(filled);
        }

        return (await results.AskResultsAsync<StoreResult, ResultStored>(new StoreResult(result), context)).Rep;
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
        var request = new LoadResult(arguments.Get<JsonElement>("result_rep"), index);
        return (await results.AskResultsAsync<LoadResult, ResultLoaded>(request, context)).Value;
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
        return (await files.AskFilesAsync<LoadFile, FileLoaded>(new LoadFile(rep), context)).Obj;
    }
}
