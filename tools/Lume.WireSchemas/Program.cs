using Lume.WireSchemas;

// Writes docs/schemas (one JSON Schema per public message) and docs/asyncapi.json from the contracts' records.
// Run after changing a message: dotnet run --project tools/Lume.WireSchemas
var docs = args.Length > 0 ? args[0] : Path.Combine(WireDocuments.RepositoryRoot(), "docs");
foreach (var (path, text) in WireDocuments.Generate())
{
    var file = Path.Combine(docs, path);
    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
    await File.WriteAllTextAsync(file, text);
}

var stale = Directory.EnumerateFiles(Path.Combine(docs, "schemas"), "*.json")
    .Where(f => !WireDocuments.Generate().ContainsKey(Path.GetRelativePath(docs, f)));
foreach (var file in stale)
    File.Delete(file);
Console.WriteLine($"wrote {WireDocuments.Generate().Count} files under {docs}");
