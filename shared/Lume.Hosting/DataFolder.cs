namespace Lume.Hosting;

/// <summary>
/// Checks a folder Lume keeps data in before the first file goes there, so a wrong setting is reported by name
/// ("LUME_DATA_DIR /tmp/x is a file") instead of as an IOException from deep inside a store.
/// </summary>
public static class DataFolder
{
    // Kernel views, not storage: writes there fail in confusing ways or, worse, change the system.
    static readonly string[] SystemFolders = ["/proc", "/sys", "/dev"];

    /// <summary>Creates <paramref name="folder"/> if needed and checks that a file can be written in it; throws <see cref="LumeStartupException"/> naming <paramref name="setting"/>.</summary>
    public static void Ensure(string folder, string setting)
    {
        var full = Path.GetFullPath(folder);
        if (!OperatingSystem.IsWindows() && SystemFolders.Any(s => full == s || full.StartsWith(s + "/", StringComparison.Ordinal)))
            throw new LumeStartupException($"{setting} {full} is under {full.Split('/')[1].Insert(0, "/")}, a system folder that cannot hold data; give a folder of your own");
        if (File.Exists(full))
            throw new LumeStartupException($"{setting} {full} is a file, not a folder; give a folder (it is created if missing)");
        try
        {
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, $".lume-write-check-{Guid.NewGuid():N}");
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LumeStartupException($"{setting} {full} cannot be written ({Reason(e)}); give a folder this user may write to", e);
        }
    }

    static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException or FileNotFoundException => "a part of the path is missing or not a folder",
        _ => e.Message,
    };
}
