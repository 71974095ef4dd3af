using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Contracts;

/// <summary>
/// Finds a saved file again: the JSON that <c>save_file</c> returns and <c>load_file</c> takes.
/// The property order is the upstream key order.
/// </summary>
public sealed record FileRep(
    [property: JsonPropertyName("filename")] string Filename,
    [property: JsonPropertyName("file_type_string")] string FileTypeString,
    [property: JsonPropertyName("filesystem_identifier")] string FilesystemIdentifier);

/// <summary>Asks the FileService to serialise <paramref name="Obj"/> as the given file type and write it.</summary>
/// <param name="FileType">An upstream type string or a Lume alias such as <c>TextFile</c>.</param>
/// <param name="CreateDir">Create missing parent directories; without it a missing directory is an error.</param>
/// <param name="Overwrite">Replace an existing file; without it an existing file is an error.</param>
/// <param name="Content">
/// Large content by claim check (MassTransit message data, in the repository the services share): written as it is,
/// streamed, instead of <paramref name="Obj"/>.
/// </param>
public sealed record SaveFile(
    string FilesystemIdentifier,
    string Filename,
    string FileType,
    JsonElement Obj,
    bool CreateDir,
    bool Overwrite,
    MassTransit.MessageData<Stream>? Content = null);

/// <summary>The file was written; <paramref name="File"/> finds it again.</summary>
public sealed record FileSaved(FileRep File);

/// <summary>Asks the FileService to read a file and deserialise it as its file type.</summary>
/// <param name="Raw">Skip the file type: answer with the file's bytes exactly as stored, base64-encoded.</param>
public sealed record LoadFile(FileRep File, bool Raw = false);

/// <summary>
/// The file's content as JSON; for a raw load of a large file, <paramref name="Content"/> holds the bytes by claim check
/// and <paramref name="Obj"/> is null.
/// </summary>
public sealed record FileLoaded(FileRep File, JsonElement Obj, MassTransit.MessageData<Stream>? Content = null);

/// <summary>Asks the FileService what a folder of a filesystem holds (its top folder when <paramref name="Path"/> is null).</summary>
public sealed record ListFiles(string FilesystemIdentifier, string? Path);

/// <summary>The folder's entries, by the paths flows use (the alias paths of a mounted filesystem).</summary>
public sealed record FilesListed(string FilesystemIdentifier, IReadOnlyList<FileEntry> Entries);

/// <summary>One file or folder; <paramref name="Size"/> is null for a folder.</summary>
public sealed record FileEntry(string Path, bool IsDirectory, long? Size, DateTimeOffset Modified);

/// <summary>A file request was refused or failed; nothing was written.</summary>
/// <param name="ErrorType">A stable name users meet, e.g. FilesystemNotConfigured, PathNotInRoot.</param>
public sealed record FileRequestFailed(string ErrorType, string Message);
