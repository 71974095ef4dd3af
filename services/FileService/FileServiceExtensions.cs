using Lume.FileService.FileTypes;
using Lume.FileService.Filesystems;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.FileService;

/// <summary>
/// One configured filesystem: upstream's <c>LUME_MOUNTED_FILESYSTEM__*</c>, or any number more as
/// <c>LUME_FILESYSTEMS__{ID}__MOUNT_PATH</c>, <c>__MOUNT_ALIAS</c> and <c>__MOUNT_TYPE</c>.
/// </summary>
public sealed class FilesystemSettings
{
    [ConfigurationKeyName("IDENTIFIER")]
    public string? Identifier { get; set; }

    [ConfigurationKeyName("MOUNT_PATH")]
    public string? MountPath { get; set; }

    [ConfigurationKeyName("MOUNT_ALIAS")]
    public string? MountAlias { get; set; }

    [ConfigurationKeyName("MOUNT_TYPE")]
    public string? MountType { get; set; }
}

/// <summary>Adds the FileService to a host.</summary>
public static class FileServiceExtensions
{
    /// <summary>The FileService: consumes SaveFile and LoadFile, answers FileSaved, FileLoaded or FileRequestFailed.</summary>
    public static IHostApplicationBuilder AddLumeFileService(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        services.AddSingleton<IFilesystem>(sp => Folder(sp, "local",
            configuration["LOCAL_FILESYSTEM:ROOT"] ?? Path.Combine(sp.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "files"), null));
        var mounts = new List<(string Variables, FilesystemSettings Settings)>();
        if (configuration.GetSection("MOUNTED_FILESYSTEM").GetChildren().Any())
            mounts.Add(("LUME_MOUNTED_FILESYSTEM__", configuration.GetSection("MOUNTED_FILESYSTEM").Get<FilesystemSettings>()!));
        foreach (var section in configuration.GetSection("FILESYSTEMS").GetChildren())
        {
            var settings = section.Get<FilesystemSettings>() ?? new FilesystemSettings();
            settings.Identifier ??= section.Key;
            mounts.Add(($"LUME_FILESYSTEMS__{section.Key}__", settings));
        }

        services.AddSingleton(new MountedFilesystems(mounts));
        foreach (var (variables, settings) in mounts)
            if (!string.IsNullOrWhiteSpace(settings.MountPath) && !string.IsNullOrWhiteSpace(settings.Identifier))
                services.AddSingleton<IFilesystem>(sp => Folder(sp, settings.Identifier, settings.MountPath, settings.MountAlias));
        services.AddSingleton<FilesystemRegistry>();
        services.AddLumeFileType<TextFileType>();
        services.AddLumeFileType<YamlFileType>();
        services.AddLumeFileType<JsonFileType>();
        services.AddLumeFileType<ImageFileType>();
        services.AddLumeFileType<Hdf5FileType>();
        services.AddLumeFileType<BinaryFileType>();
        services.AddSingleton<FileTypeRegistry>();
        services.AddHostedService<FilesystemPreparer>();
        services.AddHostedService<TemporaryFileSweeper>();
        services.AddLumeConsumers(bus =>
        {
            bus.AddConsumer<SaveFileConsumer, FileConsumerDefinition<SaveFileConsumer>>();
            bus.AddConsumer<LoadFileConsumer, FileConsumerDefinition<LoadFileConsumer>>();
            bus.AddConsumer<ListFilesConsumer, FileConsumerDefinition<ListFilesConsumer>>();
        });
        return builder;
    }

    /// <summary>Adds a file type (its type string, aliases and serializer) to those the FileService reads and writes.</summary>
    public static IServiceCollection AddLumeFileType<TFileType>(this IServiceCollection services)
        where TFileType : class, IFileType => services.AddSingleton<IFileType, TFileType>();

    static DirectoryFilesystem Folder(IServiceProvider sp, string identifier, string root, string? alias) =>
        new(identifier, root, alias, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<DirectoryFilesystem>>());

    sealed record MountedFilesystems(IReadOnlyList<(string Variables, FilesystemSettings Settings)> Mounts);

    // Checks the configured filesystems before the first request: a missing variable or folder stops the start here.
    // The local root is created, so "hello.txt" needs no create_dir; a Directory mount must exist already.
    sealed class FilesystemPreparer(IEnumerable<IFilesystem> filesystems, MountedFilesystems mounted) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var problems = new List<string>();
            foreach (var (variables, settings) in mounted.Mounts)
            {
                foreach (var (value, name) in new[] { (settings.Identifier, "IDENTIFIER"), (settings.MountPath, "MOUNT_PATH"), (settings.MountAlias, "MOUNT_ALIAS") })
                    if (string.IsNullOrWhiteSpace(value))
                        problems.Add($"{variables}{name} is not set");
                var type = MountType.DirectoryOrCreate;
                if (settings.MountType is not null && !Enum.TryParse(settings.MountType, out type))
                    problems.Add($"{variables}MOUNT_TYPE must be Directory or DirectoryOrCreate");
                else if (type == MountType.Directory && settings.MountPath is { } path && !Directory.Exists(path))
                    problems.Add($"{variables}MOUNT_PATH {path} does not exist (mount type Directory)");
            }

            var duplicates = filesystems.GroupBy(f => f.Identifier).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
            problems.AddRange(duplicates.Select(d => $"filesystem '{d}' is configured more than once"));
            if (problems.Count > 0)
                throw new LumeStartupException($"the FileService's filesystems are misconfigured: {string.Join("; ", problems)}");
            foreach (var folder in filesystems.OfType<DirectoryFilesystem>())
            {
                var variables = mounted.Mounts.FirstOrDefault(m => m.Settings.Identifier == folder.Identifier).Variables;
                DataFolder.Ensure(folder.Root, variables is null ? "LUME_LOCAL_FILESYSTEM__ROOT (by default under LUME_DATA_DIR)" : $"{variables}MOUNT_PATH");
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    // Temporary files of saves a crash interrupted, swept once at start; in the background, as a large mount takes a while.
    sealed class TemporaryFileSweeper(IEnumerable<IFilesystem> filesystems) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() =>
        {
            foreach (var folder in filesystems.OfType<DirectoryFilesystem>())
                folder.SweepTemporaryFiles(stoppingToken);
        }, stoppingToken);
    }
}
