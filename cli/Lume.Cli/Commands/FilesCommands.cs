using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Contracts;
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

        var answer = await ServiceRequest.AskAsync<LoadFile, FileLoaded, FileRequestFailed>(new LoadFile(rep, Raw: true), cancellationToken);
        if (answer is FileRequestFailed failed)
            return ServiceRequest.Refused(failed.ErrorType, failed.Message);

        var loaded = (FileLoaded)answer;
        if (loaded.Content is { HasValue: true } claim)
        {
            // A large file arrives by claim check: streamed to its destination, never held whole.
            if (settings.Output is null)
            {
                Console.Error.WriteLine($"error: '{rep.Filename}' is large; write it to a file with -o");
                return RunCommand.Rejected;
            }

            await using var source = await claim.Value;
            await using var target = File.Create(settings.Output);
            await source.CopyToAsync(target, cancellationToken);
            return 0;
        }

        var bytes = loaded.Obj.GetBytesFromBase64();
        if (settings.Output is not null)
        {
            await File.WriteAllBytesAsync(settings.Output, bytes, cancellationToken);
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
