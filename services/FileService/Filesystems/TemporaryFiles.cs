using System.Text.RegularExpressions;

namespace Lume.FileService.Filesystems;

/// <summary>
/// The temporary files saves write before renaming them over their targets: <c>.lume-{32 hex}.tmp</c>, and the
/// <c>.{name}.{32 hex}.tmp</c> of earlier versions. Their names are reserved; those a crash left behind are swept.
/// </summary>
public static partial class TemporaryFiles
{
    /// <summary>A temporary file not written to for this long belongs to no save in progress (those keep touching theirs).</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(10);

    /// <summary>How often a save in progress touches its temporary file.</summary>
    public static readonly TimeSpan TouchEvery = StaleAfter / 5;

    // A fixed length, so any name the host allows can be saved: the temporary name is never longer than 42 characters.
    public static string NewName() => $".lume-{Guid.NewGuid():N}.tmp";

    public static bool IsTemporary(string name) => Pattern().IsMatch(name);

    /// <summary>Deletes the stale temporary files in <paramref name="folder"/>; returns their paths. Unreadable folders and undeletable files are passed over.</summary>
    public static IReadOnlyList<string> Sweep(string folder, bool recursive, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        // Links are not followed: a sweep stays inside the filesystem's folder.
        var options = new EnumerationOptions { RecurseSubdirectories = recursive, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        var removed = new List<string>();
        try
        {
            foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*.tmp", options))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!IsTemporary(file.Name) || now - file.LastWriteTimeUtc < StaleAfter)
                    continue;
                try
                {
                    file.Delete();
                    removed.Add(file.FullName);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return removed;
    }

    [GeneratedRegex(@"^\.(lume-|.+\.)[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
