using System.Globalization;
using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Storage;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Lume.Scheduler.Runs;

/// <summary>The embedded Scheduler store: one SQLite file, a row per run, per task and per registered flow.</summary>
/// <param name="path">The file.</param>
/// <param name="lost">Told when the file is removed while in use (see <see cref="SqliteDatabase"/>).</param>
public sealed class SqliteRunStore(string path, Action<string>? lost = null) : IRunStore, IFlowStore, ISchedulerLease, ICacheStore, IDisposable
{
    readonly SqliteDatabase _database = new(path, "the Scheduler's store", lost);
    readonly SemaphoreSlim _writing = new(1, 1);
    Writer? _writer;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _database.InitializeAsync("""
            CREATE TABLE IF NOT EXISTS runs (
                run_id TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL,
                definition TEXT NOT NULL, parameters TEXT NOT NULL, created_at TEXT NOT NULL,
                finished_at TEXT, failed_task TEXT, error TEXT, row_version INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
            CREATE TABLE IF NOT EXISTS tasks (
                run_id TEXT NOT NULL, slug TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,
                attempt INTEGER NOT NULL, result TEXT, error_type TEXT, error TEXT, worker TEXT,
                ready_at TEXT, started_at TEXT, finished_at TEXT,
                PRIMARY KEY (run_id, slug));
            """, cancellationToken);

        await using var connection = await _database.OpenAsync(cancellationToken);
        // Each step brings a store of the version before it up to date; user_version records how far a file has come.
        // It is read inside each step's (immediate) transaction: two Schedulers starting on one file migrate it once.
        string[] migrations =
        [
            """
            ALTER TABLE runs ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';
            CREATE TABLE IF NOT EXISTS flows (
                name TEXT NOT NULL, version TEXT NOT NULL, pool TEXT NOT NULL, definition TEXT NOT NULL,
                registered_at TEXT NOT NULL, PRIMARY KEY (name, version));
            """,
            "ALTER TABLE runs ADD COLUMN trace_parent TEXT;",
            // A run's definition and parameters never change, and a big flow's definition spans many overflow pages that
            // SQLite would read and write again with every update of the run's row: they get a row of their own.
            """
            CREATE TABLE run_inputs (run_id TEXT PRIMARY KEY, definition TEXT NOT NULL, parameters TEXT NOT NULL);
            INSERT INTO run_inputs (run_id, definition, parameters) SELECT run_id, definition, parameters FROM runs;
            ALTER TABLE runs DROP COLUMN definition;
            ALTER TABLE runs DROP COLUMN parameters;
            """,
            // Attempts, timers and the outbox: what a restarted Scheduler needs to carry on without losing or repeating anything.
            """
            ALTER TABLE runs ADD COLUMN deadline_at TEXT;
            ALTER TABLE runs ADD COLUMN ending TEXT NOT NULL DEFAULT 'Sent';
            ALTER TABLE tasks ADD COLUMN token TEXT;
            ALTER TABLE tasks ADD COLUMN dispatch TEXT NOT NULL DEFAULT 'Sent';
            ALTER TABLE tasks ADD COLUMN due_at TEXT;
            ALTER TABLE tasks ADD COLUMN past_attempts TEXT;
            CREATE INDEX runs_unfinished ON runs (state, ending);
            """,
            "CREATE TABLE scheduler_lease (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, expires_at TEXT NOT NULL);",
            "CREATE TABLE store_identity (id INTEGER PRIMARY KEY CHECK (id = 1), store_id TEXT NOT NULL);",
            // Task caching: the key a task's result is kept under, whether a run reads the cache, and the kept results.
            """
            ALTER TABLE tasks ADD COLUMN cache_key TEXT;
            ALTER TABLE runs ADD COLUMN no_cache INTEGER NOT NULL DEFAULT 0;
            CREATE TABLE task_cache (key TEXT PRIMARY KEY, result TEXT NOT NULL, flow TEXT NOT NULL, task TEXT NOT NULL,
                run_id TEXT NOT NULL, stored_at TEXT NOT NULL, expires_at TEXT NOT NULL);
            """,
            // Subflows: the task of another run a run was started for; it never changes, like the run's definition.
            "ALTER TABLE run_inputs ADD COLUMN parent TEXT;",
            // Claims of copies of attempts, decided once every worker has had time to say it holds the attempt.
            "ALTER TABLE tasks ADD COLUMN claimed_at TEXT;",
            // What each pool's workers offer, so that a flow registered from a file is checked against it after a restart too.
            "CREATE TABLE pool_task_types (pool TEXT PRIMARY KEY, task_types TEXT NOT NULL);",
            // A definition is stored once, under its digest, however many runs share it: a run of a 100,000-task flow
            // wrote 15 MB of it, and made as much again in buffers, each time it started. Runs stored before keep
            // theirs, under a key of their own.
            """
            CREATE TABLE definitions (key TEXT PRIMARY KEY, definition TEXT NOT NULL);
            INSERT INTO definitions (key, definition) SELECT 'run:' || run_id, definition FROM run_inputs;
            CREATE TABLE run_inputs_keyed (run_id TEXT PRIMARY KEY, definition_key TEXT NOT NULL, parameters TEXT NOT NULL, parent TEXT);
            INSERT INTO run_inputs_keyed (run_id, definition_key, parameters, parent) SELECT run_id, 'run:' || run_id, parameters, parent FROM run_inputs;
            DROP TABLE run_inputs;
            ALTER TABLE run_inputs_keyed RENAME TO run_inputs;
            """,
            // Lists of one flow's runs (the web view's filter), newest first, without reading every run.
            "CREATE INDEX runs_by_flow ON runs (flow, created_at);",
        ];
        for (var step = 0; step < migrations.Length; step++)
        {
            await using var transaction = connection.BeginTransaction();
            await using var version = connection.CreateCommand();
            version.Transaction = transaction;
            version.CommandText = "PRAGMA user_version";
            if (Convert.ToInt32(await version.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > step)
                continue;
            await SqliteDatabase.ExecuteAsync(connection, transaction, migrations[step] + $"PRAGMA user_version = {step + 1};", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
    }

    public async Task<bool> CreateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        if (!await WriteAsync(writer => Insert(writer, run), cancellationToken))
            return false;
        run.RowVersion = 1;
        run.MarkStored();
        return true;
    }

    public async Task UpdateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        await WriteAsync(writer => Update(writer, run), cancellationToken);
        run.RowVersion += 1;
        run.MarkStored();
    }

    /// <summary>False when a run with its id exists already.</summary>
    bool Insert(Writer writer, RunRecord run)
    {
        var insert = writer.InsertRun;
        Set(insert, "$id", run.RunId.ToString());
        Set(insert, "$flow", run.Flow.Name);
        Set(insert, "$version", run.Flow.Version);
        Set(insert, "$pool", run.Pool);
        Set(insert, "$trace", run.TraceParent);
        Set(insert, "$created", Format(run.CreatedAt));
        Set(insert, "$deadline", FormatOrNull(run.DeadlineAt));
        Set(insert, "$no_cache", run.NoCache ? 1 : 0);
        SetRunState(insert, run);
        if (insert.ExecuteNonQuery() == 0)
            return false;
        // Written once per definition, as a rule at the flow's first run: a key already stored makes no row, and no rowid.
        var key = DefinitionKey(run.Flow);
        var definition = writer.InsertDefinition;
        Set(definition, "$key", key);
        Set(definition, "$length", FlowJson.Measure(run.Flow).Length);
        if (definition.ExecuteScalar() is long rowid)
            writer.WriteDefinition("definitions", rowid, run.Flow);

        var inputs = writer.InsertInputs;
        Set(inputs, "$id", run.RunId.ToString());
        Set(inputs, "$key", key);
        Set(inputs, "$parameters", JsonSerializer.Serialize(run.Parameters));
        Set(inputs, "$parent", run.Parent is { } parent ? JsonSerializer.Serialize(parent) : null);
        inputs.ExecuteNonQuery();
        // A task of the flow still pending is all default: its row is written when it first changes, and reading the run
        // makes it from the stored definition (a mapped task's child has a row from its making).
        WriteTasks(writer, run.RunId, run.Tasks.Values.Where(t => t.State != TaskState.Pending || t.Parent is not null));
        return true;
    }

    static bool Update(Writer writer, RunRecord run)
    {
        var update = writer.UpdateRun;
        Set(update, "$id", run.RunId.ToString());
        Set(update, "$version", run.RowVersion);
        SetRunState(update, run);
        if (update.ExecuteNonQuery() == 0)
            throw new RunConcurrencyException(run.RunId);
        WriteTasks(writer, run.RunId, run.ChangedTasks);
        return true;
    }

    /// <summary>Runs <paramref name="write"/> in a transaction on the writer connection, committed unless it throws.</summary>
    async Task<bool> WriteAsync(Func<Writer, bool> write, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            _database.EnsurePresent();
            _writer ??= await Writer.OpenAsync(_database, cancellationToken);
            using var transaction = _writer.Begin();
            var result = write(_writer);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writing.Release();
        }
    }

    // The definitions of the runs read or written here, by key, while anything else holds them: a run read again (after
    // a restart, or once it has left memory) shares the definition of the flow's other runs, and its graph, instead of
    // parsing megabytes of JSON into a copy of its own.
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, WeakReference<FlowDefinition>> _definitions = new(StringComparer.Ordinal);

    // A digest of the definition's JSON; equal definitions have one key.
    string DefinitionKey(FlowDefinition flow)
    {
        var key = "sha256:" + Convert.ToHexStringLower(FlowJson.Measure(flow).Digest.Span);
        if (!_definitions.TryGetValue(key, out var known) || !known.TryGetTarget(out _))
            _definitions[key] = new WeakReference<FlowDefinition>(flow);
        return key;
    }

    async Task<FlowDefinition> DefinitionAsync(SqliteConnection connection, string key, CancellationToken cancellationToken)
    {
        if (_definitions.TryGetValue(key, out var known) && known.TryGetTarget(out var flow))
            return flow;
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT definition FROM definitions WHERE key = $key";
        select.Parameters.AddWithValue("$key", key);
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
                throw new InvalidOperationException($"the store has no flow definition '{key}'");
            await using var text = reader.GetStream(0);
            flow = FlowJson.Parse(text);
        }

        _definitions[key] = new WeakReference<FlowDefinition>(flow);
        return flow;
    }

    public async Task<RunRecord?> FindAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        RunRecord run;
        await using (var select = connection.CreateCommand())
        {
            select.CommandText = """
                SELECT i.definition_key, i.parameters, r.created_at, r.state, r.finished_at, r.failed_task, r.error, r.row_version, r.pool, r.trace_parent,
                    r.deadline_at, r.ending, r.no_cache, i.parent
                FROM runs r JOIN run_inputs i ON i.run_id = r.run_id WHERE r.run_id = $id
                """;
            select.Parameters.AddWithValue("$id", runId.ToString());
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
                return null;
            run = new RunRecord
            {
                RunId = runId,
                Flow = await DefinitionAsync(connection, reader.GetString(0), cancellationToken),
                Parameters = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(reader.GetString(1))!,
                CreatedAt = Parse(reader.GetString(2))!.Value,
                State = Enum.Parse<RunState>(reader.GetString(3)),
                FinishedAt = Parse(NullableString(reader, 4)),
                FailedTask = NullableString(reader, 5),
                Error = NullableString(reader, 6),
                RowVersion = reader.GetInt64(7),
                Pool = reader.GetString(8),
                TraceParent = NullableString(reader, 9),
                DeadlineAt = Parse(NullableString(reader, 10)),
                Ending = Enum.Parse<Outbox>(reader.GetString(11)),
                NoCache = reader.GetInt64(12) != 0,
                Parent = NullableString(reader, 13) is { } parent ? JsonSerializer.Deserialize<RunParent>(parent) : null,
                Tasks = new Dictionary<string, TaskRecord>(StringComparer.Ordinal),
            };
        }

        await using (var select = connection.CreateCommand())
        {
            select.CommandText = """
                SELECT slug, type, state, attempt, result, error_type, error, worker, ready_at, started_at, finished_at,
                    token, dispatch, due_at, past_attempts, cache_key, claimed_at
                FROM tasks WHERE run_id = $id
                """;
            select.Parameters.AddWithValue("$id", runId.ToString());
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var result = NullableString(reader, 4);
                var task = new TaskRecord
                {
                    Slug = reader.GetString(0),
                    Type = reader.GetString(1),
                    State = Enum.Parse<TaskState>(reader.GetString(2)),
                    Attempt = reader.GetInt32(3),
                    Result = result is null ? null : JsonSerializer.Deserialize<JsonElement>(result),
                    ErrorType = NullableString(reader, 5),
                    Error = NullableString(reader, 6),
                    Worker = NullableString(reader, 7),
                    ReadyAt = Parse(NullableString(reader, 8)),
                    StartedAt = Parse(NullableString(reader, 9)),
                    FinishedAt = Parse(NullableString(reader, 10)),
                    Token = NullableString(reader, 11) is { } token ? Guid.Parse(token) : Guid.Empty,
                    Dispatch = Enum.Parse<Outbox>(reader.GetString(12)),
                    DueAt = Parse(NullableString(reader, 13)),
                    PastAttempts = NullableString(reader, 14) is { } past ? JsonSerializer.Deserialize<List<AttemptRecord>>(past)! : [],
                    CacheKey = NullableString(reader, 15),
                    ClaimedAt = Parse(NullableString(reader, 16)),
                };
                run.Tasks[task.Slug] = task;
            }
        }

        foreach (var node in run.Flow.Tasks)
            if (!run.Tasks.ContainsKey(node.Slug))
                run.Tasks[node.Slug] = new TaskRecord { Slug = node.Slug, Type = node.Type, State = TaskState.Pending };
        return run;
    }

    public async Task<IReadOnlyList<RunSummary>> ListAsync(int limit, string? flow, RunState? state, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        var runs = new List<(Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, string DefinitionKey)>();
        await using (var select = connection.CreateCommand())
        {
            // Only the filters given are in the query, so that each can use its index.
            var where = new List<string>();
            if (flow is not null)
            {
                where.Add("r.flow = $flow");
                select.Parameters.AddWithValue("$flow", flow);
            }

            if (state is { } wanted)
            {
                where.Add("r.state = $state");
                select.Parameters.AddWithValue("$state", wanted.ToString());
            }

            select.CommandText = $"""
                SELECT r.run_id, r.flow, r.version, r.state, r.created_at, r.finished_at, i.definition_key
                FROM runs r JOIN run_inputs i ON i.run_id = r.run_id
                {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")}
                ORDER BY r.created_at DESC LIMIT $limit
                """;
            select.Parameters.AddWithValue("$limit", limit);
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                runs.Add((Guid.Parse(reader.GetString(0)), reader.GetString(1), reader.GetString(2),
                    Enum.Parse<RunState>(reader.GetString(3)), Parse(reader.GetString(4))!.Value, Parse(NullableString(reader, 5)), reader.GetString(6)));
        }

        var counts = await CountTasksAsync(connection, runs.Select(r => r.RunId).ToArray(), cancellationToken);
        var summaries = new List<RunSummary>(runs.Count);
        foreach (var run in runs)
        {
            var (byState, flowTaskRows) = counts.GetValueOrDefault(run.RunId, (new Dictionary<TaskState, int>(), 0));
            // A task of the flow still pending has no row until it first changes (see Insert): the pending ones are the
            // flow's tasks that have none. A running run's definition is in memory already, shared with the flow's other
            // runs; an ended run has none pending (its end makes every task final, a change, so a row), and its
            // definition, megabytes for a big flow, is not read for a list.
            if (run.State == RunState.Running)
            {
                var pending = (await DefinitionAsync(connection, run.DefinitionKey, cancellationToken)).Tasks.Count - flowTaskRows;
                if (pending > 0)
                    byState[TaskState.Pending] = byState.GetValueOrDefault(TaskState.Pending) + pending;
            }

            summaries.Add(new RunSummary(run.RunId, run.Flow, run.Version, run.State, run.CreatedAt, run.FinishedAt, byState));
        }

        return summaries;
    }

    /// <summary>
    /// The task rows of the runs, by run and state, in one grouped query; and how many of each run's rows are tasks of the
    /// flow, not children of a mapped task (whose slugs end in <c>]</c>, see <see cref="MappedSlug"/>).
    /// </summary>
    static async Task<Dictionary<Guid, (Dictionary<TaskState, int> ByState, int FlowTaskRows)>> CountTasksAsync(
        SqliteConnection connection, IReadOnlyList<Guid> runIds, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<Guid, (Dictionary<TaskState, int> ByState, int FlowTaskRows)>();
        if (runIds.Count == 0)
            return counts;
        await using var select = connection.CreateCommand();
        var names = new string[runIds.Count];
        for (var i = 0; i < runIds.Count; i++)
        {
            names[i] = $"$r{i}";
            select.Parameters.AddWithValue(names[i], runIds[i].ToString());
        }

        select.CommandText = $"""
            SELECT run_id, state, substr(slug, -1) = ']' AS child, count(*) FROM tasks
            WHERE run_id IN ({string.Join(", ", names)})
            GROUP BY run_id, state, child
            """;
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var runId = Guid.Parse(reader.GetString(0));
            if (!counts.TryGetValue(runId, out var run))
                run = (new Dictionary<TaskState, int>(), 0);
            var state = Enum.Parse<TaskState>(reader.GetString(1));
            var count = reader.GetInt32(3);
            run.ByState[state] = run.ByState.GetValueOrDefault(state) + count;
            if (reader.GetInt64(2) == 0)
                run.FlowTaskRows += count;
            counts[runId] = run;
        }

        return counts;
    }

    public async Task<IReadOnlyList<Guid>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT run_id FROM runs WHERE state = 'Running' OR ending <> 'Sent'";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var runs = new List<Guid>();
        while (await reader.ReadAsync(cancellationToken))
            runs.Add(Guid.Parse(reader.GetString(0)));
        return runs;
    }

    public async Task<bool> TryHoldLeaseAsync(string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var take = connection.CreateCommand();
        take.CommandText = """
            INSERT INTO scheduler_lease (id, holder, expires_at) VALUES (1, $holder, $until)
            ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE scheduler_lease.holder = excluded.holder OR scheduler_lease.expires_at < $now
            """;
        take.Parameters.AddWithValue("$holder", holder);
        take.Parameters.AddWithValue("$until", Format(until));
        take.Parameters.AddWithValue("$now", Format(now));
        return await take.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task ReleaseLeaseAsync(string holder, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var release = connection.CreateCommand();
        release.CommandText = "DELETE FROM scheduler_lease WHERE holder = $holder";
        release.Parameters.AddWithValue("$holder", holder);
        await release.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<(string Holder, DateTimeOffset Until)?> LeaseHolderAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT holder, expires_at FROM scheduler_lease WHERE id = 1";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), Parse(reader.GetString(1))!.Value) : null;
    }

    public async Task<string> StoreIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = """
            INSERT INTO store_identity (id, store_id) VALUES (1, $id) ON CONFLICT (id) DO NOTHING;
            SELECT store_id FROM store_identity WHERE id = 1;
            """;
        select.Parameters.AddWithValue("$id", Guid.NewGuid().ToString("N"));
        return (string)(await select.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<JsonElement?> FindCachedAsync(string key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT result FROM task_cache WHERE key = $key AND expires_at > $now";
        select.Parameters.AddWithValue("$key", key);
        select.Parameters.AddWithValue("$now", Format(now));
        return await select.ExecuteScalarAsync(cancellationToken) is string result ? JsonSerializer.Deserialize<JsonElement>(result) : null;
    }

    public async Task SaveCachedAsync(StoreCache entry, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        _database.EnsurePresent();
        await using var upsert = connection.CreateCommand();
        upsert.CommandText = """
            INSERT INTO task_cache (key, result, flow, task, run_id, stored_at, expires_at) VALUES ($key, $result, $flow, $task, $run, $stored, $expires)
            ON CONFLICT (key) DO UPDATE SET result = excluded.result, flow = excluded.flow, task = excluded.task, run_id = excluded.run_id,
                stored_at = excluded.stored_at, expires_at = excluded.expires_at
            """;
        upsert.Parameters.AddWithValue("$key", entry.Key);
        upsert.Parameters.AddWithValue("$result", JsonSerializer.Serialize(entry.Result));
        upsert.Parameters.AddWithValue("$flow", entry.Flow);
        upsert.Parameters.AddWithValue("$task", entry.TaskSlug);
        upsert.Parameters.AddWithValue("$run", entry.RunId.ToString());
        upsert.Parameters.AddWithValue("$stored", Format(entry.StoredAt));
        upsert.Parameters.AddWithValue("$expires", Format(entry.ExpiresAt));
        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task SaveFlowAsync(RegisteredFlow flow, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await using var upsert = connection.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = """
            INSERT INTO flows (name, version, pool, definition, registered_at) VALUES ($name, $version, $pool, zeroblob($length), $at)
            ON CONFLICT (name, version) DO UPDATE SET pool = excluded.pool, definition = excluded.definition, registered_at = excluded.registered_at
            RETURNING rowid
            """;
        upsert.Parameters.AddWithValue("$name", flow.Flow.Name);
        upsert.Parameters.AddWithValue("$version", flow.Flow.Version);
        upsert.Parameters.AddWithValue("$pool", flow.Pool);
        upsert.Parameters.AddWithValue("$length", FlowJson.Measure(flow.Flow).Length);
        upsert.Parameters.AddWithValue("$at", Format(flow.RegisteredAt));
        WriteDefinition(connection, "flows", (long)(await upsert.ExecuteScalarAsync(cancellationToken))!, flow.Flow);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Writes a definition's JSON a piece at a time into a value made its exact size (<c>zeroblob</c>), in the row's
    /// transaction: a 100,000-task flow's 15 MB of text never exists whole, in .NET or in SQLite, as it did when bound
    /// as a parameter (with as much again in the buffers that made it).
    /// </summary>
    static void WriteDefinition(SqliteConnection connection, string table, long rowid, FlowDefinition flow)
    {
        using var blob = new SqliteBlob(connection, table, "definition", rowid);
        FlowJson.WriteUtf8(blob, flow);
    }

    public async Task<IReadOnlyList<RegisteredFlow>> ListFlowsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT definition, pool, registered_at FROM flows";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var flows = new List<RegisteredFlow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            await using var text = reader.GetStream(0);
            flows.Add(new RegisteredFlow(FlowJson.Parse(text), reader.GetString(1), Parse(reader.GetString(2))!.Value));
        }
        return flows;
    }

    public async Task SaveTaskTypesAsync(string pool, IReadOnlyCollection<string> taskTypes, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var upsert = connection.CreateCommand();
        upsert.CommandText = """
            INSERT INTO pool_task_types (pool, task_types) VALUES ($pool, $types)
            ON CONFLICT (pool) DO UPDATE SET task_types = excluded.task_types
            """;
        upsert.Parameters.AddWithValue("$pool", pool);
        upsert.Parameters.AddWithValue("$types", JsonSerializer.Serialize(taskTypes.Order(StringComparer.Ordinal)));
        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlySet<string>?> TaskTypesAsync(string pool, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT task_types FROM pool_task_types WHERE pool = $pool";
        select.Parameters.AddWithValue("$pool", pool);
        return await select.ExecuteScalarAsync(cancellationToken) is string json
            ? JsonSerializer.Deserialize<string[]>(json)!.ToHashSet(StringComparer.Ordinal)
            : null;
    }

    static void WriteTasks(Writer writer, Guid runId, IEnumerable<TaskRecord> tasks)
    {
        var run = runId.ToString();
        foreach (var task in tasks)
            writer.UpsertTask.Write(run, task);
    }

    static void SetRunState(SqliteCommand command, RunRecord run)
    {
        Set(command, "$state", run.State.ToString());
        Set(command, "$finished", FormatOrNull(run.FinishedAt));
        Set(command, "$failed", run.FailedTask);
        Set(command, "$error", run.Error);
        Set(command, "$ending", run.Ending.Stored());
    }

    static void Set(SqliteCommand command, string name, object? value) => command.Parameters[name].Value = value ?? DBNull.Value;

    public void Dispose()
    {
        _writer?.Dispose();
        _writing.Dispose();
    }

    /// <summary>
    /// The one connection every write goes through, its statements prepared once: a write then costs the rows it
    /// changes and its commit, not opening a connection and parsing SQL, which were most of its cost. SQLite lets one
    /// writer in at a time anyway; readers use pooled connections of their own (WAL).
    /// </summary>
    sealed class Writer : IDisposable
    {
        readonly SqliteConnection _connection;

        Writer(SqliteConnection connection)
        {
            _connection = connection;
            InsertRun = Prepare("""
                INSERT INTO runs (run_id, flow, version, pool, state, created_at, finished_at, failed_task, error, row_version, trace_parent,
                    deadline_at, ending, no_cache)
                VALUES ($id, $flow, $version, $pool, $state, $created, $finished, $failed, $error, 1, $trace, $deadline, $ending, $no_cache)
                ON CONFLICT (run_id) DO NOTHING
                """, "$id", "$flow", "$version", "$pool", "$state", "$created", "$finished", "$failed", "$error", "$trace", "$deadline", "$ending",
                "$no_cache");
            InsertInputs = Prepare(
                "INSERT INTO run_inputs (run_id, definition_key, parameters, parent) VALUES ($id, $key, $parameters, $parent)",
                "$id", "$key", "$parameters", "$parent");
            InsertDefinition = Prepare(
                "INSERT INTO definitions (key, definition) VALUES ($key, zeroblob($length)) ON CONFLICT (key) DO NOTHING RETURNING rowid",
                "$key", "$length");
            UpdateRun = Prepare("""
                UPDATE runs SET state = $state, finished_at = $finished, failed_task = $failed, error = $error, ending = $ending,
                    row_version = row_version + 1
                WHERE run_id = $id AND row_version = $version
                """, "$id", "$version", "$state", "$finished", "$failed", "$error", "$ending");
            UpsertTask = new TaskUpsert(connection);
        }

        public SqliteCommand InsertRun { get; }

        public SqliteCommand InsertInputs { get; }

        public SqliteCommand InsertDefinition { get; }

        public SqliteCommand UpdateRun { get; }

        public TaskUpsert UpsertTask { get; }

        public static async Task<Writer> OpenAsync(SqliteDatabase database, CancellationToken cancellationToken) =>
            new(await database.OpenAsync(cancellationToken));

        /// <summary>Writes a definition into the room made for it in the row (see <see cref="SqliteRunStore.WriteDefinition"/>).</summary>
        public void WriteDefinition(string table, long rowid, FlowDefinition flow) => SqliteRunStore.WriteDefinition(_connection, table, rowid, flow);

        public SqliteTransaction Begin()
        {
            var transaction = _connection.BeginTransaction();
            InsertRun.Transaction = InsertInputs.Transaction = InsertDefinition.Transaction = UpdateRun.Transaction = transaction;
            return transaction;
        }

        SqliteCommand Prepare(string sql, params string[] parameters)
        {
            var command = _connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
                command.Parameters.Add(new SqliteParameter { ParameterName = name }); // typed by each value as it is bound
            command.Prepare();
            return command;
        }

        public void Dispose()
        {
            InsertRun.Dispose();
            InsertDefinition.Dispose();
            InsertInputs.Dispose();
            UpdateRun.Dispose();
            UpsertTask.Dispose();
            _connection.Dispose();
        }
    }

    /// <summary>
    /// A task's row, written through SQLite's own interface: bound by position, stepped and reset. A command of
    /// Microsoft.Data.Sqlite looks each of its parameters up by name on every execution, which was most of the cost of
    /// a row, and a busy run writes thousands. It runs inside the writer's transaction, on the writer's connection.
    /// </summary>
    sealed class TaskUpsert : IDisposable
    {
        const string Sql = """
            INSERT INTO tasks (run_id, slug, type, state, attempt, result, error_type, error, worker, ready_at, started_at, finished_at,
                token, dispatch, due_at, past_attempts, cache_key, claimed_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
            ON CONFLICT (run_id, slug) DO UPDATE SET state = excluded.state, attempt = excluded.attempt,
                result = excluded.result, error_type = excluded.error_type, error = excluded.error,
                worker = excluded.worker, ready_at = excluded.ready_at, started_at = excluded.started_at,
                finished_at = excluded.finished_at, token = excluded.token, dispatch = excluded.dispatch,
                due_at = excluded.due_at, past_attempts = excluded.past_attempts, cache_key = excluded.cache_key,
                claimed_at = excluded.claimed_at
            """;

        readonly sqlite3 _database;
        readonly sqlite3_stmt _statement;

        public TaskUpsert(SqliteConnection connection)
        {
            _database = connection.Handle!;
            Check(raw.sqlite3_prepare_v2(_database, Sql, out _statement), raw.SQLITE_OK);
        }

        public void Write(string runId, TaskRecord task)
        {
            try
            {
                Bind(1, runId);
                Bind(2, task.Slug);
                Bind(3, task.Type);
                Bind(4, task.State.ToString());
                Check(raw.sqlite3_bind_int64(_statement, 5, task.Attempt), raw.SQLITE_OK);
                BindJson(6, task.ResultJson); // kept compact (see TaskRecord.Result)
                Bind(7, task.ErrorType);
                Bind(8, task.Error);
                Bind(9, task.Worker);
                Bind(10, task.ReadyAt);
                Bind(11, task.StartedAt);
                Bind(12, task.FinishedAt);
                if (task.Attempt > 0)
                {
                    Span<char> token = stackalloc char[36];
                    task.Token.TryFormat(token, out _);
                    Check(raw.sqlite3_bind_text16(_statement, 13, token), raw.SQLITE_OK);
                }
                else
                    Check(raw.sqlite3_bind_null(_statement, 13), raw.SQLITE_OK);
                Bind(14, task.Dispatch.Stored());
                Bind(15, task.DueAt);
                Bind(16, task.PastAttempts.Count > 0 ? JsonSerializer.Serialize(task.PastAttempts) : null);
                Bind(17, task.CacheKey);
                Bind(18, task.ClaimedAt);
                Check(raw.sqlite3_step(_statement), raw.SQLITE_DONE);
            }
            finally
            {
                raw.sqlite3_reset(_statement);
            }
        }

        // Bound from the string's own characters, and a time formatted on the stack: a run of 100,000 tasks writes each
        // row a few times, and converting every value to a new string and then to UTF-8 made about a kilobyte of garbage
        // a row, while the reports the write was for waited in memory.
        void Bind(int index, string? value) =>
            Check(value is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text16(_statement, index, value.AsSpan()), raw.SQLITE_OK);

        void BindJson(int index, byte[]? utf8) =>
            Check(utf8 is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text(_statement, index, utf8.AsSpan()), raw.SQLITE_OK);

        void Bind(int index, DateTimeOffset? time)
        {
            if (time is not { } t)
            {
                Check(raw.sqlite3_bind_null(_statement, index), raw.SQLITE_OK);
                return;
            }

            Span<char> text = stackalloc char[40]; // as Format writes it: "O", in UTC
            t.ToUniversalTime().TryFormat(text, out var length, "O", CultureInfo.InvariantCulture);
            Check(raw.sqlite3_bind_text16(_statement, index, text[..length]), raw.SQLITE_OK);
        }

        void Check(int code, int expected)
        {
            if (code != expected)
                throw new SqliteException($"SQLite Error {code}: '{raw.sqlite3_errmsg(_database).utf8_to_string()}'.", code, raw.sqlite3_extended_errcode(_database));
        }

        public void Dispose() => _statement.Dispose();
    }

    static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    // Round-trip format in UTC: sorts as text, so ORDER BY created_at is chronological.
    static string Format(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    static string? FormatOrNull(DateTimeOffset? time) => time is { } t ? Format(t) : null;

    static DateTimeOffset? Parse(string? text) =>
        text is null ? null : DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
