using Lume.WireSchemas;

// Writes docs/schemas (one JSON Schema per public message) and docs/asyncapi.json from the contracts' records.
// Run after changing a message: dotnet run --project tools/Lume.WireSchemas
var docs = args.Length > 0 ? args[0] : Path.Combine(WireDocuments.RepositoryRoot(), "docs");
var files = WireDocuments.Generate();
foreach (var (path, text) in files)
{
    var file = Path.Combine(docs, path);
    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
    await File.WriteAllTextAsync(file, text);
}

// A schema of a message that is no longer public would mislead a client.
foreach (var file in Directory.EnumerateFiles(Path.Combine(docs, "schemas"), "*.json").Where(f => !files.ContainsKey(Path.GetRelativePath(docs, f))))
    File.Delete(file);
Console.WriteLine($"wrote {files.Count} files under {docs}");
