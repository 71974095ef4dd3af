using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Contracts;
using Lume.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary><c>lume files get FILE_REP_JSON [-o OUT]</c>: a saved file's bytes, exactly as stored.</summary>
public sealed class FilesGetCommand : AsyncCommand<FilesGetCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE_REP>")]
        [Description("A file rep as JSON, as save_file returns it")]
        public string FileRep { get; init; } = "";

        [CommandOption("-o|--output <OUT>")]
        [Description("Write the file here instead of to stdout (needed for binary files)")]
        public string? Output { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (((settings.Output is null ? null : CliInput.CheckOutputFile(settings.Output)) ?? CliInput.CheckArgument(settings.FileRep, "the file rep")) is { } problem)
        {
            Console.Error.WriteLine($"error: {problem}");
            return RunCommand.Rejected;
        }

        FileRep? rep;
        try
        {
            rep = JsonSerializer.Deserialize<FileRep>(settings.FileRep);
        }
        catch (JsonException e)
        {
            Console.Error.WriteLine($"error: the file rep is not JSON: {e.Message}");
            return RunCommand.Rejected;
        }

        if (rep?.Filename is null || rep.FileTypeString is null || rep.FilesystemIdentifier is null)
        {
            Console.Error.WriteLine("error: a file rep is {\"filename\": ..., \"file_type_string\": ..., \"filesystem_identifier\": ...}");
            return RunCommand.Rejected;
        }

        return await ServiceRequest.WithHostAsync(lume => GetAsync(lume, rep, settings.Output, cancellationToken), cancellationToken);
    }

    static async Task<int> GetAsync(LumeHost lume, FileRep rep, string? output, CancellationToken cancellationToken)
    {
        var answer = await ServiceRequest.AskAsync<LoadFile, FileLoaded, FileRequestFailed>(lume, new LoadFile(rep, Raw: true), cancellationToken);
        if (answer is FileRequestFailed failed)
            return ServiceRequest.Refused(failed.ErrorType, failed.Message);

        var loaded = (FileLoaded)answer;
        if (loaded.Content is { HasValue: true } claim)
        {
            // A large file arrives by claim check: streamed to its destination, never held whole. The copy was made for
            // this command alone, so it goes as soon as it is read (or refused), not when the sweep finds it.
            try
            {
                if (output is null)
                {
                    Console.Error.WriteLine($"error: '{rep.Filename}' is large; write it to a file with -o");
                    return RunCommand.Rejected;
                }

                await using var source = await claim.Value;
                await WriteOutputAsync(output, source, cancellationToken);
                return 0;
            }
            finally
            {
                lume.Host.Services.GetRequiredService<MessageDataFolder>().Delete(claim.Address);
            }
        }

        var bytes = loaded.Obj.GetBytesFromBase64();
        if (output is not null)
        {
            await using var source = new MemoryStream(bytes, writable: false);
            await WriteOutputAsync(output, source, cancellationToken);
            return 0;
        }

        if (bytes.AsSpan().Contains((byte)0))
        {
            Console.Error.WriteLine($"error: '{rep.Filename}' is binary; write it to a file with -o");
            return RunCommand.Rejected;
        }

        await using var stdout = Console.OpenStandardOutput();
        await stdout.WriteAsync(bytes, cancellationToken);
        return 0;
    }

    // Beside the target, then renamed over it: an interrupted get leaves no half-written file under the user's name.
    static async Task WriteOutputAsync(string output, Stream source, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(output))!, $".lume-{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
                await source.CopyToAsync(target, cancellationToken);
            File.Move(temporary, output, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            File.Delete(temporary);
            if (e is OperationCanceledException)
                throw;
            throw new LumeServiceException($"-o '{output}': cannot be written ({(e is UnauthorizedAccessException ? "permission denied" : e.Message)})");
        }
    }
}

/// <summary><c>lume files ls FILESYSTEM_ID [PATH]</c>: what a folder of a filesystem holds.</summary>
public sealed class FilesListCommand(IAnsiConsole console) : AsyncCommand<FilesListCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILESYSTEM_ID>")]
        [Description("The filesystem, e.g. local or mounted")]
        public string Filesystem { get; init; } = "";

        [CommandArgument(1, "[PATH]")]
        [Description("A folder in it, as flows name it (default: its top)")]
        public string? Path { get; init; }

        [CommandOption("--json")]
        [Description("Print the entries as JSON")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var answer = await ServiceRequest.AskAsync<ListFiles, FilesListed, FileRequestFailed>(new ListFiles(settings.Filesystem, settings.Path), cancellationToken);
        if (answer is FileRequestFailed failed)
            return ServiceRequest.Refused(failed.ErrorType, failed.Message);

        var entries = ((FilesListed)answer).Entries;
        if (settings.Json)
        {
            console.Profile.Out.Writer.WriteLine(RunReport.Write(new JsonArray(entries.Select(e => (JsonNode)new JsonObject
            {
                ["path"] = e.Path,
                ["is_directory"] = e.IsDirectory,
                ["size"] = e.Size,
                ["modified"] = e.Modified.ToString("O", CultureInfo.InvariantCulture),
            }).ToArray())));
            return 0;
        }

        var table = new Table().AddColumns("Path", "Size", "Modified (UTC)");
        foreach (var entry in entries)
            table.AddRow(
                Markup.Escape(entry.IsDirectory ? entry.Path + "/" : entry.Path),
                entry.Size?.ToString(CultureInfo.InvariantCulture) ?? "",
                entry.Modified.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
        console.Write(table);
        return 0;
    }
}
