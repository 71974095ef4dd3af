using System.Text.Json;
using Lume.Contracts;
using Lume.Tasks;
using MassTransit;

namespace Lume.Worker.BuiltIn;

/// <summary>
/// <c>save_file</c>: asks the FileService to write <c>obj</c> as <c>file_type</c> (default <c>TextFile</c>) under
/// <c>filename</c> on <c>filesystem_identifier</c>, and returns the file rep. Optional <c>create_dir</c> (default
/// false) creates missing directories; <c>overwrite</c> (default false) replaces an existing file: overwriting is a
/// choice a flow makes explicitly, so a rerun never destroys a result by accident.
/// </summary>
public sealed class SaveFileTask(IRequestClient<SaveFile> files) : ILumeTask
{
    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var request = new SaveFile(
            arguments.Get<string>("filesystem_identifier"),
            arguments.Get<string>("filename"),
            arguments.Get("file_type", "TextFile"),
            arguments.Get<JsonElement>("obj"),
            arguments.Get("create_dir", false),
            arguments.Get("overwrite", false));
        return (await files.AskFilesAsync<SaveFile, FileSaved>(request, context)).File;
    }
}
