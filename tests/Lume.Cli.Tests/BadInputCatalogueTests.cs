using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Lume.Cli.Tests;

/// <summary>
/// Bad input as users and attackers give it, one row per case, against the built <c>lume</c> command on a copy of a data
/// folder that holds a run, saved files and a stored result. Every row must end with its exit code and a message that
/// names the thing at fault, show no .NET stack trace, and leave the runs, the files under the filesystem root, the
/// stored results and the claim-check folder exactly as they were, with no temporary file or new folder behind.
/// </summary>
public sealed partial class BadInputCatalogueTests(BadInputCatalogueTests.Seed seed) : IClassFixture<BadInputCatalogueTests.Seed>
{
    const int Failed = 1, Rejected = 2, CouldNotStart = 3;

    const string TextRep = """{"filename":"hello.txt","file_type_string":"lume_services.files.file:File[TextSerializer]","filesystem_identifier":"local"}""";

    static string Rep(string filename, string type = "lume_services.files.file:File[TextSerializer]", string filesystem = "local") =>
        $$"""{"filename":{{System.Text.Json.JsonSerializer.Serialize(filename)}},"file_type_string":"{{type}}","filesystem_identifier":"{{filesystem}}"}""";

    static readonly string[] Flow1 = ["run", "flow1", "-p", "text1=a", "-p", "text2=b", "-p", "filesystem_identifier=local"];

    static string[] Flow1With(params string[] more) => [.. Flow1, .. more];

    /// <summary>One bad input: the command (or a bash line using <c>$LUME</c>), its environment, what it must answer, and any setup of the case's folder.</summary>
    public sealed record Case(
        string[] Args, int Exit, string Fragment, Dictionary<string, string>? Env = null, string? Shell = null,
        Action<string, string>? Setup = null, string? Secret = null);

    static readonly Dictionary<string, Case> Cases = new()
    {
        // Parameters
        ["param: invalid UTF-8 in -p"] = new([], Rejected, "parameter 'text1': the value is not valid UTF-8",
            Shell: "$LUME run flow1 -p \"text1=$(printf 'ab\\xff\\xfe')\" -p text2=b -p filename=x.txt -p filesystem_identifier=local"),
        ["param: invalid UTF-8 in --params-file"] = new(["run", "flow1", "--params-file", "bad-utf8.json"], Rejected, "--params-file 'bad-utf8.json': not UTF-8",
            Setup: (dir, _) => File.WriteAllBytes(Path.Combine(dir, "bad-utf8.json"), [.. "{\"text1\": \"a"u8, 0xff, .. "\"}"u8])),
        ["param: --params-file is a folder"] = new(["run", "flow1", "--params-file", "folder"], Rejected, "--params-file 'folder': is a folder",
            Setup: (dir, _) => Directory.CreateDirectory(Path.Combine(dir, "folder"))),
        ["param: --params-file missing"] = new(["run", "flow1", "--params-file", "nope.json"], Rejected, "--params-file 'nope.json': no such file"),
        ["param: --params-file not JSON"] = new(["run", "flow1", "--params-file", "p.json"], Rejected, "--params-file 'p.json': not JSON",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "p.json"), "{text1: a}")),
        ["param: --params-file an array"] = new(["run", "flow1", "--params-file", "p.json"], Rejected, "expected a JSON object",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "p.json"), "[1, 2]")),
        ["param: -p name:= not JSON"] = new(Flow1With("-p", "filename:=hello"), Rejected, "parameter 'filename': the value is not JSON"),
        ["param: escaped lone surrogate"] = new(Flow1With("-p", "filename:=\"\\ud800.txt\""), Rejected, "parameter 'filename'"),
        ["param: escaped lone surrogate in a key"] = new(Flow1With("-p", "filename:={\"\\udc00\": 1}"), Rejected, "a key holds an escaped lone surrogate"),
        ["param: number beyond a double"] = new(Flow1With("-p", "filename:=1e400"), Rejected, "1e400 is too large for a number"),
        ["param: nested 40 deep"] = new(Flow1With("-p", $"filename:={new string('[', 40)}{new string(']', 40)}"), Rejected, "nested more than 32 levels"),
        ["param: 2 MiB of parameters"] = new(["run", "flow1", "--params-file", "big.json", "-p", "text2=b", "-p", "filename=x.txt", "-p", "filesystem_identifier=local"],
            Rejected, "more than the limit of 1 MiB", Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "big.json"), $"{{\"text1\": \"{new string('a', 2 << 20)}\"}}")),
        ["param: missing"] = new(["run", "flow1", "-p", "text1=a"], Rejected, "parameter 'text2': missing"),
        ["param: undeclared"] = new(Flow1With("-p", "filename=x.txt", "-p", "colour=red"), Rejected, "parameter 'colour': not declared"),
        ["param: given twice"] = new(Flow1With("-p", "filename=x.txt", "-p", "filename=y.txt"), Rejected, "parameter 'filename': given more than once"),
        ["param: no name"] = new(Flow1With("-p", "=x"), Rejected, "expected name=value"),
        ["run: unknown flow"] = new(["run", "no_such_flow"], Rejected, "no_such_flow"),
        ["run: unknown version"] = new(Flow1With("-p", "filename=x.txt", "--flow-version", "99"), Rejected, "99"),
        ["run: --timeout 0"] = new(Flow1With("-p", "filename=x.txt", "--timeout", "0"), Rejected, "--timeout: '0'"),
        ["run: --timeout abc"] = new(Flow1With("-p", "filename=x.txt", "--timeout", "abc"), Rejected, "--timeout: 'abc'"),
        ["run: --no-wait embedded"] = new(Flow1With("-p", "filename=x.txt", "--no-wait"), Rejected, "--no-wait needs the distributed services"),
        ["run: --detach-on-interrupt embedded"] = new(Flow1With("-p", "filename=x.txt", "--detach-on-interrupt"), Rejected, "--detach-on-interrupt needs"),
        ["run: unknown option"] = new(Flow1With("-p", "filename=x.txt", "--bogus"), Rejected, "bogus"),
        ["run: no flow"] = new(["run"], Rejected, "FLOW"),

        // Paths, through a run: the task fails with the FileService's named error
        ["path: .. out of the root"] = new(Flow1With("-p", "filename=../escape.txt"), Failed, "PathNotInRoot"),
        ["path: absolute outside the root"] = new(Flow1With("-p", "filename=/tmp/lume-escape.txt"), Failed, "PathNotInRoot"),
        ["path: NUL in the name"] = new(Flow1With("-p", "filename:=\"a\\u0000b.txt\""), Failed, "InvalidPath"),
        ["path: newline in the name"] = new(Flow1With("-p", "filename:=\"a\\nb.txt\""), Failed, "InvalidPath"),
        ["path: an existing folder"] = new(Flow1With("-p", "filename=dirA"), Failed, "IsADirectory"),
        ["path: ends in a slash"] = new(Flow1With("-p", "filename=newdir/"), Failed, "InvalidPath"),
        ["path: a name of 300 characters"] = new(Flow1With("-p", $"filename={new string('n', 300)}.txt"), Failed, "InvalidPath"),
        ["path: empty"] = new(Flow1With("-p", "filename="), Failed, "InvalidPath"),
        ["path: Lume's temporary name"] = new(Flow1With("-p", "filename=.lume-0123456789abcdef0123456789abcdef.tmp"), Failed, "InvalidPath"),
        ["path: through a file"] = new(Flow1With("-p", "filename=hello.txt/x.txt"), Failed, "hello.txt"),
        ["path: symbolic link out of the root"] = new(Flow1With("-p", "filename=outside/x.txt"), Failed, "PathNotInRoot",
            Setup: (dir, data) => File.CreateSymbolicLink(Path.Combine(data, "files", "outside"), Directory.CreateDirectory(Path.Combine(dir, "elsewhere")).FullName)),
        ["path: a file over 1 MiB loaded as a value"] = new(["run", "flow2", "-p", $"file_rep:={Rep("big.bin", type: "BinaryFile")}"], Failed, "FileTooLarge"),
        ["path: unknown filesystem"] = new(["run", "flow1", "-p", "text1=a", "-p", "text2=b", "-p", "filename=x.txt", "-p", "filesystem_identifier=nowhere"],
            Failed, "FilesystemNotConfigured"),

        // File reps and files get / ls
        ["files get: rep not JSON"] = new(["files", "get", "{filename: x}"], Rejected, "the file rep is not JSON"),
        ["files get: rep without fields"] = new(["files", "get", "{\"filename\": \"x\"}"], Rejected, "file_type_string"),
        ["files get: .. in the rep"] = new(["files", "get", Rep("../scheduler.db")], Rejected, "PathNotInRoot"),
        ["files get: missing file"] = new(["files", "get", Rep("nope.txt")], Rejected, "FileNotFound"),
        ["files get: a folder"] = new(["files", "get", Rep("dirA")], Rejected, "IsADirectory"),
        ["files get: unknown filesystem"] = new(["files", "get", Rep("hello.txt", filesystem: "nowhere")], Rejected, "FilesystemNotConfigured"),
        ["files get: unknown file type"] = new(["files", "get", Rep("hello.txt", type: "no.such:Type")], Rejected, "no.such:Type"),
        ["files get: -o a folder"] = new(["files", "get", TextRep, "-o", "outdir"], Rejected, "-o 'outdir': is a folder",
            Setup: (dir, _) => Directory.CreateDirectory(Path.Combine(dir, "outdir"))),
        ["files get: -o into a missing folder"] = new(["files", "get", TextRep, "-o", "missing/out.txt"], Rejected, "-o 'missing/out.txt': the folder"),
        ["files get: large file without -o"] = new(["files", "get", Rep("big.bin", type: "BinaryFile")], Rejected, "is large"),
        ["files get: binary file to stdout"] = new(["files", "get", Rep("nul.bin", type: "BinaryFile")], Rejected, "is binary"),
        ["files get: invalid UTF-8 in the rep"] = new([], Rejected, "the file rep: the value is not valid UTF-8",
            Shell: "$LUME files get \"{\\\"filename\\\":\\\"$(printf 'a\\xff')\\\",\\\"file_type_string\\\":\\\"x\\\",\\\"filesystem_identifier\\\":\\\"local\\\"}\""),
        ["files ls: unknown filesystem"] = new(["files", "ls", "nowhere"], Rejected, "FilesystemNotConfigured"),
        ["files ls: .. out of the root"] = new(["files", "ls", "local", "../"], Rejected, "PathNotInRoot"),
        ["files ls: a file"] = new(["files", "ls", "local", "hello.txt"], Rejected, "hello.txt"),
        ["files ls: missing folder"] = new(["files", "ls", "local", "nope"], Rejected, "DirectoryNotFound"),

        // Result documents
        ["results save: missing file"] = new(["results", "save", "nope.json"], Rejected, "result file 'nope.json': no such file"),
        ["results save: a folder"] = new(["results", "save", "folder"], Rejected, "result file 'folder': is a folder",
            Setup: (dir, _) => Directory.CreateDirectory(Path.Combine(dir, "folder"))),
        ["results save: invalid UTF-8"] = new(["results", "save", "r.json"], Rejected, "not UTF-8",
            Setup: (dir, _) => File.WriteAllBytes(Path.Combine(dir, "r.json"), [.. Encoding.UTF8.GetBytes(Document("\"x\"")[..^2]), 0xc3, 0x28, .. "}}"u8])),
        ["results save: not JSON"] = new(["results", "save", "r.json"], Rejected, "not JSON",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), "{project_name: local}")),
        ["results save: a number beyond a double"] = new(["results", "save", "r.json"], Rejected, "InvalidResult",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), Document("1e400"))),
        ["results save: nested 40 deep"] = new(["results", "save", "r.json"], Rejected, "InvalidResult",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), Document($"{new string('[', 40)}{new string(']', 40)}"))),
        ["results save: a lone surrogate"] = new(["results", "save", "r.json"], Rejected, "InvalidResult",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), Document("\"\\ud800\""))),
        ["results save: no flow_id"] = new(["results", "save", "r.json"], Rejected, "flow_id",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), """{"project_name": "local", "inputs": {"a": 1}, "outputs": {"b": 2}}""")),
        ["results save: an array"] = new(["results", "save", "r.json"], Rejected, "InvalidResult",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), "[1]")),
        ["results save: a $ key"] = new(["results", "save", "r.json"], Rejected, "InvalidResult",
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "r.json"), Document("{\"$where\": 1}"))),
        ["results show: rep not JSON"] = new(["results", "show", "{flow_id"], Rejected, "the result rep is not JSON"),
        ["results show: unknown hash"] = new(["results", "show", "0123456789abcdef"], Rejected, "NoResultFound"),
        ["results show: operator in the rep"] = new(["results", "show", """{"result_type_string": "lume_services.results.generic:Result", "query": {"$where": "1"}}"""], Rejected, "$where"),
        ["results list: -n 0"] = new(["results", "list", "-n", "0"], Rejected, "-n/--limit: '0'"),
        ["results list: -n abc"] = new(["results", "list", "-n", "abc"], Rejected, "-n/--limit: 'abc'"),

        // Runs
        ["runs: -n 0"] = new(["runs", "-n", "0"], Rejected, "-n/--limit: '0'"),
        ["runs: -n -5"] = new(["runs", "-n", "-5"], Rejected, "-n/--limit: '-5'"),
        ["runs: -n abc"] = new(["runs", "-n", "abc"], Rejected, "-n/--limit: 'abc'"),
        ["runs show: not a run id"] = new(["runs", "show", "1234"], Rejected, "'1234' is not a run id"),
        ["runs show: unknown run"] = new(["runs", "show", "00000000-0000-0000-0000-000000000001"], Rejected, "is not known"),
        ["runs cancel: not a run id"] = new(["runs", "cancel", "x"], Rejected, "'x' is not a run id"),
        ["runs trace: --width abc"] = new(["runs", "trace", "00000000-0000-0000-0000-000000000001", "--width", "abc"], Rejected, "--width: 'abc'"),
        ["cli: unknown command"] = new(["frobnicate"], Rejected, "frobnicate"),
        ["cli: runs show without an id"] = new(["runs", "show"], Rejected, "RUN_ID"),

        // Configuration
        ["config: LUME_WORKER__CONCURRENCY=abc"] = new(["runs"], CouldNotStart, "LUME_WORKER__CONCURRENCY: 'abc' is not a whole number", Env: new() { ["LUME_WORKER__CONCURRENCY"] = "abc" }),
        ["config: LUME_WORKER__CONCURRENCY=0"] = new(["runs"], CouldNotStart, "LUME_WORKER__CONCURRENCY", Env: new() { ["LUME_WORKER__CONCURRENCY"] = "0" }),
        ["config: LUME_SCHEDULER__LEASE_SECONDS=soon"] = new(["runs"], CouldNotStart, "LUME_SCHEDULER__LEASE_SECONDS: 'soon'", Env: new() { ["LUME_SCHEDULER__LEASE_SECONDS"] = "soon" }),
        ["config: LUME_TRACE_CONSOLE=maybe"] = new(["runs"], CouldNotStart, "LUME_TRACE_CONSOLE: 'maybe' is not true or false", Env: new() { ["LUME_TRACE_CONSOLE"] = "maybe" }),
        ["config: LUME_LOG_LEVEL=Loud"] = new(["runs"], CouldNotStart, "LUME_LOG_LEVEL", Env: new() { ["LUME_LOG_LEVEL"] = "Loud" }),
        ["config: LUME_MESSAGE_DATA_HOURS=0"] = new(["runs"], CouldNotStart, "LUME_MESSAGE_DATA_HOURS", Env: new() { ["LUME_MESSAGE_DATA_HOURS"] = "0" }),
        ["config: LUME_DATA_DIR a file"] = new(["runs"], CouldNotStart, "LUME_DATA_DIR", Env: new() { ["LUME_DATA_DIR"] = "{dir}/a-file" },
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "a-file"), "")),
        ["config: LUME_DATA_DIR under /proc"] = new(["runs"], CouldNotStart, "LUME_DATA_DIR /proc/lume is under /proc", Env: new() { ["LUME_DATA_DIR"] = "/proc/lume" }),
        ["config: LUME_DATA_DIR under a file"] = new(["runs"], CouldNotStart, "cannot be written", Env: new() { ["LUME_DATA_DIR"] = "{dir}/a-file/data" },
            Setup: (dir, _) => File.WriteAllText(Path.Combine(dir, "a-file"), "")),
        ["config: LUME_BROKER not an address"] = new(["runs"], CouldNotStart, "LUME_BROKER must look like", Env: new() { ["LUME_BROKER"] = "rabbit:5672" }),
        ["config: LUME_BROKER where nothing listens"] = new(["runs"], CouldNotStart, "could not reach the broker at amqp://lume@127.0.0.1:{closed}",
            Env: new() { ["LUME_BROKER"] = "amqp://lume:s3cr3t-pw@127.0.0.1:{closed}/" }, Secret: "s3cr3t-pw"),
        ["config: LUME_BROKER where something else listens"] = new(["run", "flow1"], CouldNotStart, "could not reach the broker at amqp://lume@127.0.0.1:{http}",
            Env: new() { ["LUME_BROKER"] = "amqp://lume:s3cr3t-pw@127.0.0.1:{http}/" }, Secret: "s3cr3t-pw"),
        ["config: results MongoDB port not a number"] = new(["results", "list"], CouldNotStart, "LUME_RESULTS_DB__PORT",
            Env: new() { ["LUME_RESULTS_DB__HOST"] = "127.0.0.1", ["LUME_RESULTS_DB__PORT"] = "abc" }),
        ["config: results MongoDB where nothing listens"] = new(["results", "list"], CouldNotStart, "LUME_RESULTS_DB__HOST",
            Env: new() { ["LUME_RESULTS_DB__HOST"] = "127.0.0.1", ["LUME_RESULTS_DB__PORT"] = "{closed}", ["LUME_RESULTS_DB__TIMEOUT_SECONDS"] = "1", ["LUME_RESULTS_DB__PASSWORD"] = "s3cr3t-pw", ["LUME_RESULTS_DB__USERNAME"] = "lume" },
            Secret: "s3cr3t-pw"),
        ["config: results MongoDB connection string garbage"] = new(["results", "list"], CouldNotStart, "LUME_RESULTS_DB__CONNECTION_STRING",
            Env: new() { ["LUME_RESULTS_DB__CONNECTION_STRING"] = "mongo:/lume:s3cr3t-pw@" }, Secret: "s3cr3t-pw"),
        ["config: scheduler MongoDB port out of range"] = new(["runs"], CouldNotStart, "LUME_SCHEDULER_DB__PORT",
            Env: new() { ["LUME_SCHEDULER_DB__HOST"] = "127.0.0.1", ["LUME_SCHEDULER_DB__PORT"] = "70000" }),
        ["config: a mount without its alias"] = new(["runs"], CouldNotStart, "LUME_FILESYSTEMS__data__MOUNT_ALIAS",
            Env: new() { ["LUME_FILESYSTEMS__data__MOUNT_PATH"] = "{dir}" }),

        // Damaged stores: named, and left exactly as they were
        ["store: scheduler.db not a database"] = new(["runs"], CouldNotStart, "scheduler.db is damaged",
            Setup: (_, data) => Damage(Path.Combine(data, "scheduler.db"), bytes => Encoding.ASCII.GetBytes("this is not a database, just text ").Concat(bytes).ToArray())),
        ["store: scheduler.db cut short"] = new(["runs"], CouldNotStart, "scheduler.db",
            Setup: (_, data) => Damage(Path.Combine(data, "scheduler.db"), bytes => [.. bytes[..100], .. new byte[4000]])),
        ["store: scheduler.db a folder"] = new(["runs"], CouldNotStart, "scheduler.db is a folder",
            Setup: (_, data) =>
            {
                File.Delete(Path.Combine(data, "scheduler.db"));
                Directory.CreateDirectory(Path.Combine(data, "scheduler.db"));
            }),
        ["store: results.db not a database"] = new(["results", "list"], CouldNotStart, "results.db is damaged",
            Setup: (_, data) => Damage(Path.Combine(data, "results.db"), bytes => [.. new byte[16], .. bytes[16..]])),
    };

    public static TheoryData<string> Names => [.. Cases.Keys];

    static string Document(string outputValue) =>
        "{\"project_name\": \"local\", \"flow_id\": \"catalogue\", \"inputs\": {\"a\": 1}, \"outputs\": {\"x\": " + outputValue + "}}";

    static void Damage(string file, Func<byte[], byte[]> change)
    {
        using (var connection = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            connection.Open();
            using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            checkpoint.ExecuteNonQuery();
        }

        foreach (var sidecar in new[] { "-wal", "-shm" })
            File.Delete(file + sidecar);
        File.WriteAllBytes(file, change(File.ReadAllBytes(file)));
    }

    [Fact]
    public void TheCatalogueHasAtLeastSixtyRows() => Assert.True(Cases.Count >= 60, $"{Cases.Count} rows");

    [Theory]
    [MemberData(nameof(Names))]
    public async Task BadInput_IsRefusedByName_AndChangesNothing(string name)
    {
        var row = Cases[name];
        var dir = seed.NewCase();
        var data = Path.Combine(dir, "data");
        row.Setup?.Invoke(dir, data);
        using var http = NotAmqp.Start();
        string Fill(string text) => text.Replace("{dir}", dir, StringComparison.Ordinal)
            .Replace("{closed}", ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{http}", http.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var before = Snapshot(dir);
        var (exit, stdout, stderr) = await seed.LumeAsync(dir, data, row.Args, row.Env?.ToDictionary(e => e.Key, e => Fill(e.Value)), row.Shell);
        var output = $"exit {exit}\n--- stdout\n{stdout}\n--- stderr\n{stderr}";

        Assert.True(exit == row.Exit, $"expected exit {row.Exit}: {output}");
        Assert.Contains(Fill(row.Fragment), stderr + stdout, StringComparison.Ordinal);
        Assert.False(StackTrace().IsMatch(stdout + stderr), $"a stack trace reached the user: {output}");
        if (row.Secret is { } secret)
            Assert.DoesNotContain(secret, stdout + stderr, StringComparison.Ordinal);
        var after = Snapshot(dir);
        if (row.Exit == Failed)
        {
            // The request was accepted and its run failed in a task: that run is recorded, failed, and nothing else changed.
            var added = after.Keys.Except(before.Keys).ToArray();
            var newRuns = added.Where(k => k.Contains(": run ", StringComparison.Ordinal)).ToArray();
            Assert.True(newRuns.Length == 1 && after[newRuns[0]].StartsWith("failed", StringComparison.OrdinalIgnoreCase), $"expected one new failed run: {string.Join(", ", newRuns.Select(k => $"{k} = {after[k]}"))}");
            var runId = newRuns[0].Split(' ')[^1];
            Assert.All(added, k => Assert.Contains($" {runId}", k, StringComparison.Ordinal));
            foreach (var key in added)
                after.Remove(key);
        }

        var changed = before.Keys.Union(after.Keys).Where(k => before.GetValueOrDefault(k) != after.GetValueOrDefault(k)).ToArray();
        Assert.True(changed.Length == 0, $"changed: {string.Join("; ", changed.Select(k => $"{k}: {before.GetValueOrDefault(k) ?? "(none)"} -> {after.GetValueOrDefault(k) ?? "(none)"}"))}\n{output}");
    }

    [GeneratedRegex(@"^\s+at \S+\(", RegexOptions.Multiline)]
    private static partial Regex StackTrace();

    // A port where nothing listens: bound, then released.
    static readonly int ClosedPort = FreePort();

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// What the case leaves: every folder and file under it (files by content), the runs and tasks in scheduler.db and the
    /// results in results.db by their rows (a start of Lume rewrites its lease row, not the runs), or by their bytes
    /// when a case damaged them. A temporary file anywhere is a difference too.
    /// </summary>
    static SortedDictionary<string, string> Snapshot(string dir)
    {
        var state = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var folder in Directory.EnumerateDirectories(dir, "*", options))
            state[$"folder {Path.GetRelativePath(dir, folder)}"] = "";
        foreach (var file in Directory.EnumerateFiles(dir, "*", options))
        {
            var relative = Path.GetRelativePath(dir, file);
            var fileName = Path.GetFileName(file);
            if (fileName is "scheduler.lock" || fileName.EndsWith("-wal", StringComparison.Ordinal) || fileName.EndsWith("-shm", StringComparison.Ordinal))
                continue;
            if (fileName is "scheduler.db" or "results.db")
            {
                foreach (var (key, value) in Rows(file, fileName == "scheduler.db"
                    ? "SELECT 'run ' || run_id, state || ' ' || ifnull(finished_at, '') FROM runs; SELECT 'task ' || run_id || ' ' || slug, state || ' ' || attempt || ' ' || ifnull(result, '') FROM tasks"
                    : "SELECT 'result ' || collection || ' ' || unique_hash, document FROM results"))
                    state[$"{relative}: {key}"] = value;
            }
            else
            {
                state[$"file {relative}"] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
            }
        }

        return state;
    }

    // Each row as a key and a value; a file SQLite cannot read (a damaged one) by its bytes.
    static List<(string Key, string Value)> Rows(string file, string queries)
    {
        var rows = new List<(string, string)>();
        try
        {
            using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
            connection.Open();
            foreach (var query in queries.Split(';'))
            {
                using var command = connection.CreateCommand();
                command.CommandText = query;
                using var reader = command.ExecuteReader();
                while (reader.Read())
                    rows.Add((reader.GetString(0), reader.GetString(1)));
            }
        }
        catch (SqliteException)
        {
            rows = [("bytes", Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))))];
        }

        return rows;
    }

    /// <summary>A port where something that is not RabbitMQ answers: an HTTP-ish reply to whatever connects.</summary>
    sealed class NotAmqp : IDisposable
    {
        readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        readonly CancellationTokenSource _stop = new();

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static NotAmqp Start()
        {
            var server = new NotAmqp();
            server._listener.Start();
            _ = server.ServeAsync();
            return server;
        }

        async Task ServeAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    await client.GetStream().WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray(), _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                // Stopped with the test.
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }

    /// <summary>
    /// A data folder made once by the real command: a flow1 run (which saved hello.txt), a stored result, a folder, a
    /// 2 MiB file (fetched by claim check) and a small binary file. Each case works on a copy of it.
    /// </summary>
    public sealed class Seed : IAsyncLifetime
    {
        readonly string _top = Path.Combine(Path.GetTempPath(), "lume-catalogue", Guid.NewGuid().ToString("N"));

        string SeedDir => Path.Combine(_top, "seed");

        public async Task InitializeAsync()
        {
            var data = Path.Combine(SeedDir, "data");
            Directory.CreateDirectory(SeedDir);
            var run = await LumeAsync(SeedDir, data, ["run", "flow1", "-p", "text1=Hello", "-p", "text2=World", "-p", "filename=hello.txt", "-p", "filesystem_identifier=local"]);
            Assert.True(run.Exit == 0, run.Stderr);
            File.WriteAllText(Path.Combine(SeedDir, "result.json"), Document("\"seeded\""));
            var saved = await LumeAsync(SeedDir, data, ["results", "save", "result.json"]);
            Assert.True(saved.Exit == 0, saved.Stderr);
            File.Delete(Path.Combine(SeedDir, "result.json"));
            var files = Path.Combine(data, "files");
            Directory.CreateDirectory(Path.Combine(files, "dirA"));
            File.WriteAllBytes(Path.Combine(files, "big.bin"), RandomNumberGenerator.GetBytes(2 << 20));
            File.WriteAllBytes(Path.Combine(files, "nul.bin"), [1, 0, 2, 0]);
        }

        public Task DisposeAsync()
        {
            if (Directory.Exists(_top))
                Directory.Delete(_top, recursive: true);
            return Task.CompletedTask;
        }

        /// <summary>A fresh copy of the seed, in a folder of its own.</summary>
        public string NewCase()
        {
            var dir = Path.Combine(_top, Guid.NewGuid().ToString("N"));
            foreach (var folder in Directory.EnumerateDirectories(SeedDir, "*", SearchOption.AllDirectories))
                Directory.CreateDirectory(Path.Combine(dir, Path.GetRelativePath(SeedDir, folder)));
            foreach (var file in Directory.EnumerateFiles(SeedDir, "*", SearchOption.AllDirectories))
                File.Copy(file, Path.Combine(dir, Path.GetRelativePath(SeedDir, file)));
            return dir;
        }

        /// <summary>Runs the built lume.dll in <paramref name="dir"/> with <paramref name="data"/> as its data folder; a shell line sees it as <c>$LUME</c>.</summary>
        public async Task<(int Exit, string Stdout, string Stderr)> LumeAsync(
            string dir, string data, string[] args, Dictionary<string, string>? environment = null, string? shell = null)
        {
            var lume = Path.Combine(AppContext.BaseDirectory, "lume.dll");
            var start = shell is null ? new ProcessStartInfo("dotnet") : new ProcessStartInfo("bash");
            if (shell is null)
            {
                start.ArgumentList.Add(lume);
                foreach (var arg in args)
                    start.ArgumentList.Add(arg);
            }
            else
            {
                start.ArgumentList.Add("-c");
                start.ArgumentList.Add(shell);
                start.Environment["LUME"] = $"dotnet {lume}";
            }

            start.WorkingDirectory = dir;
            start.RedirectStandardOutput = start.RedirectStandardError = true;
            start.Environment["LUME_DATA_DIR"] = data;
            start.Environment["NO_COLOR"] = "1";
            foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("LUME_", StringComparison.Ordinal) && k != "LUME_DATA_DIR").ToArray())
                start.Environment.Remove(name);
            foreach (var (name, value) in environment ?? [])
                start.Environment[name] = value;
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await stdout, await stderr);
        }
    }
}
