using Lume.Testing;
using System.Security.Cryptography;
using System.Text.Json;
using Lume.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>Large files by claim check over real RabbitMQ, with the FileService its own process.</summary>
[Collection("RabbitMQ")]
public sealed class LargeFileTests(ITestOutputHelper output) : ClusterTest(output)
{
    const long MiB = 1024 * 1024;

    /// <summary>A file of pseudo-random bytes (seeded, so reproducible) and its SHA-256.</summary>
    async Task<(string Path, byte[] Hash)> MakeFileAsync(string name, long size)
    {
        var path = Path.Combine(Directory.CreateDirectory(Path.Combine(Cluster.Root, "source")).FullName, name);
        var random = new Random(42);
        var chunk = new byte[MiB];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (var file = File.Create(path))
        {
            for (long written = 0; written < size; written += chunk.Length)
            {
                random.NextBytes(chunk);
                hash.AppendData(chunk);
                await file.WriteAsync(chunk);
            }
        }

        return (path, hash.GetHashAndReset());
    }

    static async Task<byte[]> HashAsync(Stream stream) => await SHA256.HashDataAsync(stream);

    static long PeakRssMiB(ServiceProcess process) =>
        long.Parse(File.ReadAllLines($"/proc/{process.Id}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;

    async Task<Response> SaveAsync(string filename, string source, TimeSpan timeout)
    {
        var services = await Cluster.ClientServicesAsync();
        await using var stream = File.OpenRead(source);
        var content = await services.GetRequiredService<IMessageDataRepository>().PutStream(stream);
        var client = services.GetRequiredService<IClientFactory>().CreateRequestClient<SaveFile>(RequestTimeout.After(m: (int)timeout.TotalMinutes));
        return await client.GetResponse<FileSaved, FileRequestFailed>(new SaveFile(
            "local", filename, "BinaryFile", JsonSerializer.SerializeToElement<object?>(null), CreateDir: true, Overwrite: false, content));
    }

    [Fact]
    public async Task AResultOverTheInlineLimit_TravelsByClaimCheck_AndReachesTheStoreAndTheNextTask()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();
        var times = TaskLimits.InlineResultBytes / 4 + 1000; // about 68 KB of JSON

        var outcome = await client.RunAsync("big_result", null, new Dictionary<string, JsonElement>
        {
            ["text"] = JsonSerializer.SerializeToElement("abcd"),
            ["times"] = JsonSerializer.SerializeToElement(times),
        }).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var big = outcome.Snapshot!.Tasks.Single(t => t.Slug == "big").Result!.Value.GetString()!;
        Assert.Equal(times * 4, big.Length);
        Assert.Equal(big + "!", outcome.Snapshot.Tasks.Single(t => t.Slug == "after").Result!.Value.GetString());
        // It left the worker by claim check: a file in the shared folder, not a 68 KB message.
        Assert.Contains(Directory.GetFiles(Cluster.MessageDataDir, "*", SearchOption.AllDirectories), f => new FileInfo(f).Length >= times * 4);
    }

    [Fact]
    public async Task A100MiBFile_RoundTripsWithIdenticalBytes_AndTheFileServiceMemoryStaysFlat()
    {
        var fileService = await Cluster.StartFileServiceAsync();
        var (source, expected) = await MakeFileAsync("big.bin", 100 * MiB);
        var before = PeakRssMiB(fileService);

        var saved = await SaveAsync("data/big.bin", source, TimeSpan.FromMinutes(3));
        var rep = Assert.IsType<FileSaved>(saved.Message).File;
        var client = (await Cluster.ClientServicesAsync()).GetRequiredService<IClientFactory>().CreateRequestClient<LoadFile>(RequestTimeout.After(m: 3));
        var loaded = Assert.IsType<FileLoaded>((await client.GetResponse<FileLoaded, FileRequestFailed>(new LoadFile(rep, Raw: true))).Message);
        await using var content = await loaded.Content!.Value;
        var roundTripped = await HashAsync(content);
        var after = PeakRssMiB(fileService);
        Output.WriteLine($"FileService peak RSS: {before} MiB before, {after} MiB after moving 100 MiB each way");

        Assert.Equal(expected, await HashAsync(File.OpenRead(Path.Combine(Cluster.FilesRoot, "data", "big.bin"))));
        Assert.Equal(expected, roundTripped);
        Assert.True(after - before < 50, $"the FileService's peak RSS grew by {after - before} MiB for a 100 MiB file");
    }

    [Fact]
    public async Task AFileServiceKilledMidWrite_LeavesNoPartialTarget_AndTheRedeliveredRequestCompletesIt()
    {
        var fileService = await Cluster.StartFileServiceAsync();
        var (source, expected) = await MakeFileAsync("huge.bin", 400 * MiB);
        var target = Path.Combine(Cluster.FilesRoot, "out", "huge.bin");

        var save = SaveAsync("out/huge.bin", source, TimeSpan.FromMinutes(5));
        var folder = Path.Combine(Cluster.FilesRoot, "out");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!(Directory.Exists(folder) && Directory.EnumerateFiles(folder, ".lume-*.tmp").Any()))
        {
            Assert.True(DateTime.UtcNow < deadline, "the FileService never started writing");
            Assert.False(save.IsCompleted, "the write finished before it could be interrupted");
            await Task.Delay(2);
        }

        await fileService.KillAsync();

        Assert.False(File.Exists(target), "a killed write left a file under the target name");
        await Cluster.StartFileServiceAsync();
        var saved = await save;
        Assert.IsType<FileSaved>(saved.Message);
        Assert.Equal(expected, await HashAsync(File.OpenRead(target)));
    }
}
