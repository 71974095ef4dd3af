using Lume.FileService.FileTypes;
using Lume.FileService.Filesystems;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.FileService;

/// <summary>The FileService's settings.</summary>
public sealed class FileServiceOptions
{
    /// <summary><c>LUME_LOCAL_FILESYSTEM__ROOT</c>: the folder of the <c>local</c> filesystem. Default: <c>files</c> under the data folder.</summary>
    [ConfigurationKeyName("ROOT")]
    public string? LocalRoot { get; set; }
}

/// <summary>Adds the FileService to a host.</summary>
public static class FileServiceExtensions
{
    /// <summary>The FileService: consumes SaveFile and LoadFile, answers FileSaved, FileLoaded or FileRequestFailed.</summary>
    public static IHostApplicationBuilder AddLumeFileService(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<FileServiceOptions>().Bind(builder.Configuration.GetSection("LOCAL_FILESYSTEM"));
        services.AddSingleton<IFilesystem>(sp =>
        {
            var root = sp.GetRequiredService<IOptions<FileServiceOptions>>().Value.LocalRoot
                ?? Path.Combine(sp.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "files");
            return new LocalFilesystem("local", root);
        });
        services.AddSingleton<FilesystemRegistry>();
        services.AddSingleton<IFileType, TextFileType>();
        services.AddSingleton<FileTypeRegistry>();
        services.AddHostedService<LocalRootCreator>();
        services.AddLumeConsumers(bus =>
        {
            bus.AddConsumer<SaveFileConsumer, FileConsumerDefinition<SaveFileConsumer>>();
            bus.AddConsumer<LoadFileConsumer, FileConsumerDefinition<LoadFileConsumer>>();
        });
        return builder;
    }

    // The local root exists from the start, so "hello.txt" needs no create_dir.
    sealed class LocalRootCreator(IEnumerable<IFilesystem> filesystems) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            foreach (var local in filesystems.OfType<LocalFilesystem>())
                Directory.CreateDirectory(local.Root);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
