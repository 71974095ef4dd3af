using Lume.Contracts;
using Lume.FileService.FileTypes;
using Lume.FileService.Filesystems;
using System.Text.Json;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Lume.FileService;

/// <summary>Serialises and writes a file; answers FileSaved with its rep, or FileRequestFailed with nothing written.</summary>
public sealed class SaveFileConsumer(FilesystemRegistry filesystems, FileTypeRegistry types, ILogger<SaveFileConsumer> logger) : IConsumer<SaveFile>
{
    public async Task Consume(ConsumeContext<SaveFile> context)
    {
        var request = context.Message;
        using var activity = LumeTelemetry.Source.StartActivity("file save");
        activity?.SetTag("lume.filesystem", request.FilesystemIdentifier);
        activity?.SetTag("lume.path", request.Filename);
        activity?.SetTag("lume.file_type", request.FileType);
        try
        {
            var filesystem = filesystems.Get(request.FilesystemIdentifier);
            var type = types.Get(request.FileType);
            if (request.Content is { HasValue: true } content)
            {
                // Claim-checked content is bytes already: streamed from the shared repository to the file, never held whole.
                await using var stream = await content.Value;
                await filesystem.WriteAsync(request.Filename, stream, request.CreateDir, request.Overwrite, context.CancellationToken);
            }
            else
            {
                await using var serialized = new MemoryStream(type.Serialize(request.Obj), writable: false);
                await filesystem.WriteAsync(request.Filename, serialized, request.CreateDir, request.Overwrite, context.CancellationToken);
            }

            logger.LogInformation("Saved {Filename} on {Filesystem}", request.Filename, filesystem.Identifier);
            await context.RespondAsync(new FileSaved(new FileRep(request.Filename, type.TypeString, filesystem.Identifier)));
        }
        catch (FileServiceException e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.ErrorType);
            await context.RespondAsync(new FileRequestFailed(e.ErrorType, e.Message));
        }
    }
}

/// <summary>Reads and deserialises a file; answers FileLoaded, or FileRequestFailed.</summary>
public sealed class LoadFileConsumer(FilesystemRegistry filesystems, FileTypeRegistry types, IMessageDataRepository messageData) : IConsumer<LoadFile>
{
    /// <summary>Raw loads larger than this travel by claim check instead of inside the answer.</summary>
    public const long InlineLimit = 1024 * 1024;

    public async Task Consume(ConsumeContext<LoadFile> context)
    {
        var rep = context.Message.File;
        if (rep is null)
        {
            await context.RespondAsync(new FileRequestFailed("InvalidPath",
                "the load request names no file; give a file rep (filename, file_type_string, filesystem_identifier), as save_file returns it"));
            return;
        }

        using var activity = LumeTelemetry.Source.StartActivity("file load");
        activity?.SetTag("lume.filesystem", rep.FilesystemIdentifier);
        activity?.SetTag("lume.path", rep.Filename);
        try
        {
            var filesystem = filesystems.Get(rep.FilesystemIdentifier);
            var type = types.Get(rep.FileTypeString);
            await using (var stream = filesystem.OpenRead(rep.Filename))
            {
                if (stream.Length > InlineLimit && context.Message.Raw)
                {
                    var claim = await messageData.PutStream(stream, context.CancellationToken);
                    await context.RespondAsync(new FileLoaded(rep, JsonSerializer.SerializeToElement<object?>(null), claim));
                    return;
                }

                // A file loaded as a value becomes a task's result, which is at most 1 MiB; reading and converting a bigger
                // one would cost many times its size in memory only to be refused after. Large data is read raw, streamed.
                if (stream.Length > TaskLimits.MaxResultBytes && !context.Message.Raw)
                    throw new FileServiceException("FileTooLarge",
                        $"filesystem '{filesystem.Identifier}': '{rep.Filename}' is {stream.Length / 1048576.0:0.#} MiB; a file loaded as a value (load_file) may be at most " +
                        $"{TaskLimits.MaxResultBytes >> 20} MiB, as a task's result is; pass its file rep on, and read it in the task that needs it, or fetch it with lume files get -o");
            }

            var content = await filesystem.ReadAsync(rep.Filename, context.CancellationToken);
            await context.RespondAsync(new FileLoaded(rep, context.Message.Raw ? JsonSerializer.SerializeToElement(content) : type.Deserialize(content)));
        }
        catch (FileServiceException e)
        {
            await context.RespondAsync(new FileRequestFailed(e.ErrorType, e.Message));
        }
    }
}

/// <summary>Lists a folder of a filesystem; answers FilesListed, or FileRequestFailed.</summary>
public sealed class ListFilesConsumer(FilesystemRegistry filesystems) : IConsumer<ListFiles>
{
    public async Task Consume(ConsumeContext<ListFiles> context)
    {
        try
        {
            var filesystem = filesystems.Get(context.Message.FilesystemIdentifier);
            await context.RespondAsync(new FilesListed(filesystem.Identifier, filesystem.List(context.Message.Path)));
        }
        catch (FileServiceException e)
        {
            await context.RespondAsync(new FileRequestFailed(e.ErrorType, e.Message));
        }
    }
}

/// <summary>The FileService's queue.</summary>
public sealed class FileConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public const string QueueName = LumeQueues.Files;

    public FileConsumerDefinition() => EndpointName = QueueName;
}
