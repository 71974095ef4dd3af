using System.IO.Pipes;
using System.Runtime.Versioning;
using System.Text;
using Lume.FileService.Filesystems;
using Lume.Testing;

namespace Lume.FileService.Tests.Filesystems;

public sealed class TemporaryFileTests : IDisposable
{
    const string Hex = "0123456789abcdef0123456789abcdef";
    static readonly DateTime LongAgo = DateTime.UtcNow.AddHours(-1);

    readonly string _top = Directory.CreateTempSubdirectory("lume-tests-").FullName;

    public void Dispose() => Directory.Delete(_top, recursive: true);

    string Folder(params string[] parts) => Directory.CreateDirectory(Path.Combine([_top, .. parts])).FullName;

    static string Leave(string folder, string name, DateTime? written = null)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, "half");
        File.SetLastWriteTimeUtc(path, written ?? DateTime.UtcNow);
        return path;
    }

    static string[] Names(string folder) =>
        Directory.GetFiles(folder).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_Save_RemovesTheStaleTemporaryFilesOfItsFolder_OfBothPatterns_AndNothingElse()
    {
        var root = Folder("root");
        var sub = Folder("root", "sub");
        var other = Folder("root", "other");
        Leave(sub, ".lume-" + Hex + ".tmp", LongAgo);
        Leave(sub, ".report.txt." + Hex + ".tmp", LongAgo);
        Leave(sub, ".lume-" + Hex.Replace('0', '1') + ".tmp");
        Leave(sub, ".notes.tmp", LongAgo);
        Leave(other, ".lume-" + Hex + ".tmp", LongAgo);

        await new DirectoryFilesystem("local", root).WriteAsync("sub/x.txt", Encoding.UTF8.GetBytes("x"), createDir: false, overwrite: false, CancellationToken.None);

        Assert.Equal([".lume-" + Hex.Replace('0', '1') + ".tmp", ".notes.tmp", "x.txt"], Names(sub));
        Assert.Equal([".lume-" + Hex + ".tmp"], Names(other));
    }

    [Fact]
    public void A_Listing_HidesTemporaryFilesOfBothPatterns_ButNotOtherDotFiles()
    {
        var root = Folder("root");
        Leave(root, ".lume-" + Hex + ".tmp");
        Leave(root, ".report.txt." + Hex + ".tmp");
        Leave(root, ".notes.tmp");
        Leave(root, "report.txt");

        var entries = new DirectoryFilesystem("local", root).List(null);

        Assert.Equal([".notes.tmp", "report.txt"], entries.Select(e => e.Path));
    }

    [Fact]
    public async Task TheFileServiceStart_SweepsEveryFilesystemRoot_InTheBackground()
    {
        var scratch = Folder("scratch");
        var deep = Folder("scratch", "a", "b");
        Leave(deep, ".lume-" + Hex + ".tmp", LongAgo);
        Leave(scratch, ".x.bin." + Hex + ".tmp", LongAgo);
        var fresh = Leave(deep, ".lume-" + Hex.Replace('0', '1') + ".tmp");

        await using var host = await LumeTestHost.StartAsync(builder => builder.AddLumeFileService(), new Dictionary<string, string?>
        {
            ["FILESYSTEMS:scratch:MOUNT_PATH"] = scratch,
            ["FILESYSTEMS:scratch:MOUNT_ALIAS"] = "/scratch",
        });

        for (var i = 0; i < 100 && Directory.EnumerateFiles(scratch, "*.tmp", SearchOption.AllDirectories).Count() > 1; i++)
            await Task.Delay(100);
        Assert.Equal([fresh], Directory.GetFiles(scratch, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_SaveInProgress_KeepsItsTemporaryFileFresh_SoNoSweepTakesIt()
    {
        var root = Folder("root");
        var now = new DateTimeOffset(DateTime.UtcNow.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var time = new ManualTime(now);
        var local = new DirectoryFilesystem("local", root, time: time);
        using var source = new AnonymousPipeServerStream(PipeDirection.Out);
        using var reading = new AnonymousPipeClientStream(PipeDirection.In, source.ClientSafePipeHandle);
        var name = new string('n', 255);

        var save = local.WriteAsync(name, reading, createDir: false, overwrite: false, CancellationToken.None);
        source.Write("first "u8);
        string? temporary;
        for (var i = 0; (temporary = Directory.GetFiles(root).SingleOrDefault()) is null && i < 100; i++)
            await Task.Delay(50);
        Assert.NotNull(temporary);
        Assert.Matches(@"^\.lume-[0-9a-f]{32}\.tmp$", Path.GetFileName(temporary));
        File.SetLastWriteTimeUtc(temporary, LongAgo);
        time.Tick();

        Assert.Empty(TemporaryFiles.Sweep(root, recursive: false, now + TemporaryFiles.StaleAfter / 2));
        source.Write("second"u8);
        source.Dispose();
        await save;
        Assert.Equal("first second", await File.ReadAllTextAsync(Path.Combine(root, name)));
        Assert.Equal([name], Names(root));
    }

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public void TheSweep_PassesOverUnreadableFolders_AndGoesOn()
    {
        var root = Folder("root");
        var locked = Folder("root", "locked");
        var beyond = Leave(Folder("root", "other", "deeper"), ".lume-" + Hex + ".tmp", LongAgo);
        File.SetUnixFileMode(locked, UnixFileMode.None);
        try
        {
            Skip.If(CanRead(locked), "this process may read anywhere (it runs as root)");

            var removed = TemporaryFiles.Sweep(root, recursive: true, DateTimeOffset.UtcNow);

            Assert.Equal([beyond], removed);
            Assert.False(File.Exists(beyond));
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    static bool CanRead(string folder)
    {
        try
        {
            _ = Directory.GetFileSystemEntries(folder);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A clock that stands still, whose timer fires only when told.</summary>
    sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        TimerCallback? _callback;
        object? _state;

        public override DateTimeOffset GetUtcNow() => now;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            (_callback, _state) = (callback, state);
            return new Never();
        }

        public void Tick() => _callback!(_state);

        sealed class Never : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
