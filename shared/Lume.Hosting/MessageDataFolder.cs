using System.Globalization;
using MassTransit;
using MassTransit.MessageData;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lume.Hosting;

/// <summary>
/// The claim-check folder (<c>LUME_MESSAGE_DATA_DIR</c>), bounded. Every copy is written with a time to live
/// (<c>LUME_MESSAGE_DATA_HOURS</c>), which MassTransit's file repository turns into the folder it lands in
/// (<c>yyyy/MM/dd/HH</c> of its expiry); a sweep removes the folders whose hour has passed. A client that has read a
/// copy meant only for it (a file it fetched) removes it at once with <see cref="Delete"/>.
/// </summary>
public sealed class MessageDataFolder(string path, TimeSpan timeToLive, TimeProvider time) : IMessageDataRepository
{
    readonly IMessageDataRepository _files = new FileSystemMessageDataRepository(new DirectoryInfo(path));

    public string Path => path;

    public TimeSpan TimeToLive => timeToLive;

    public Task<Stream> Get(Uri address, CancellationToken cancellationToken = default) => _files.Get(address, cancellationToken);

    public Task<Uri> Put(Stream stream, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default) =>
        _files.Put(stream, timeToLive ?? TimeToLive, cancellationToken);

    /// <summary>Removes the copy at <paramref name="address"/>, if it is in this folder; false when it was not there.</summary>
    public bool Delete(Uri address)
    {
        var parts = address.Scheme == "urn" ? address.Segments[0].Split(':') : [];
        if (parts.Length < 2 || parts[0] != "file" || parts.Skip(1).Any(p => p is "" or "." or ".."))
            return false;
        var file = System.IO.Path.Combine([path, .. parts[1..]]);
        if (!File.Exists(file))
            return false;
        File.Delete(file);
        // The folders of its expiry hour go too once empty, and the folder itself, so a fetched copy leaves nothing behind.
        for (var folder = System.IO.Path.GetDirectoryName(file); folder is not null && folder.Length >= System.IO.Path.TrimEndingDirectorySeparator(path).Length; folder = System.IO.Path.GetDirectoryName(folder))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(folder).Any())
                    break;
                Directory.Delete(folder);
            }
            catch (IOException)
            {
                break; // another copy landed in it meanwhile
            }
        }

        return true;
    }

    /// <summary>Removes every copy whose time to live has passed (and copies without one older than the time to live); returns how many.</summary>
    public int Sweep()
    {
        if (!Directory.Exists(path))
            return 0;
        var now = time.GetUtcNow().UtcDateTime;
        var removed = 0;
        foreach (var hour in Directory.EnumerateDirectories(path, "*", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 3 }))
        {
            var relative = System.IO.Path.GetRelativePath(path, hour).Replace('\\', '/');
            if (DateTime.TryParseExact(relative, "yyyy/MM/dd/HH", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var expiry)
                && expiry.AddHours(1) <= now)
                removed += RemoveFiles(hour, _ => true);
        }

        // Copies written without a lifetime (by older versions) go once they are older than the lifetime.
        var none = System.IO.Path.Combine(path, "none");
        if (Directory.Exists(none))
            removed += RemoveFiles(none, f => f.LastWriteTimeUtc + TimeToLive <= now);
        RemoveEmptyFolders(path);
        return removed;
    }

    static int RemoveFiles(string folder, Func<FileInfo, bool> expired)
    {
        var removed = 0;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            if (!expired(file))
                continue;
            try
            {
                file.Delete();
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process removed it first, or it cannot be removed by this user: the next sweep tries again.
            }
        }

        return removed;
    }

    static void RemoveEmptyFolders(string root)
    {
        foreach (var folder in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).OrderByDescending(f => f.Length))
        {
            try
            {
                if (!Directory.EnumerateFileSystemEntries(folder).Any())
                    Directory.Delete(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A copy is being written into it right now: it stays.
            }
        }
    }
}

/// <summary>Sweeps the claim-check folder when the host starts and every hour after.</summary>
sealed class MessageDataSweeper(MessageDataFolder folder, TimeProvider time, ILogger<MessageDataSweeper> logger) : BackgroundService
{
    static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start path: a big folder must not delay a command or a service.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var removed = folder.Sweep();
                if (removed > 0)
                    logger.LogInformation("Removed {Count} expired claim-check copies from {Folder}", removed, folder.Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning("Could not sweep the claim-check folder {Folder} (LUME_MESSAGE_DATA_DIR): {Error}", folder.Path, e.Message);
            }

            try
            {
                await Task.Delay(Interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return; // the host stops
            }
        }
    }
}
