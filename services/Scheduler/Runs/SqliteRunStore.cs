using System.Globalization;
using System.Text.Json;
using Lume.Flows;
using Lume.Hosting;
using Microsoft.Data.Sqlite;

namespace Lume.Scheduler.Runs;

/// <summary>The embedded Scheduler store: one SQLite file, a row per run, per task and per registered flow.</summary>
public sealed class SqliteRunStore(string path) : IRunStore, IFlowStore
{
    readonly SqliteDatabase _database = new(path);

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
        await using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        var current = Convert.ToInt32(await version.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        string[] migrations =
        [
            """
            ALTER TABLE runs ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';
            CREATE TABLE IF NOT EXISTS flows (
                name TEXT NOT NULL, version TEXT NOT NULL, pool TEXT NOT NULL, definition TEXT NOT NULL,
                registered_at TEXT NOT NULL, PRIMARY KEY (name, version));
            """,
            "ALTER TABLE runs ADD COLUMN trace_parent TEXT;",
        ];
        for (var step = current; step < migrations.Length; step++)
        {
            await using var transaction = connection.BeginTransaction();
            await SqliteDatabase.ExecuteAsync(connection, transaction, migrations[step] + $"PRAGMA user_version = {step + 1};", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
    }

    public async Task<bool> CreateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO runs (run_id, flow, version, pool, state, definition, parameters, created_at, finished_at, failed_task, error, row_version, trace_parent)
                VALUES ($id, $flow, $version, $pool, $state, $definition, $parameters, $created, $finished, $failed, $error, 1, $trace)
                ON CONFLICT (run_id) DO NOTHING
                """;
            insert.Parameters.AddWithValue("$id", run.RunId.ToString());
            insert.Parameters.AddWithValue("$flow", run.Flow.Name);
            insert.Parameters.AddWithValue("$version", run.Flow.Version);
            insert.Parameters.AddWithValue("$pool", run.Pool);
            insert.Parameters.AddWithValue("$trace", (object?)run.TraceParent ?? DBNull.Value);
            insert.Parameters.AddWithValue("$definition", FlowJson.Write(run.Flow));
            insert.Parameters.AddWithValue("$parameters", JsonSerializer.Serialize(run.Parameters));
            insert.Parameters.AddWithValue("$created", Format(run.CreatedAt));
            AddRunState(insert, run);
            if (await insert.ExecuteNonQueryAsync(cancellationToken) == 0)
                return false;
        }

        await WriteTasksAsync(connection, transaction, run.RunId, run.Tasks.Values, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        run.RowVersion = 1;
        run.MarkStored();
        return true;
    }

    public async Task UpdateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await using (var update = connection.CreateCommand())
        {
            update.Transaction = transaction;
            update.CommandText = """
                UPDATE runs SET state = $state, finished_at = $finished, failed_task = $failed, error = $error,
                    row_version = row_version + 1
                WHERE run_id = $id AND row_version = $version
                """;
            update.Parameters.AddWithValue("$id", run.RunId.ToString());
            update.Parameters.AddWithValue("$version", run.RowVersion);
            AddRunState(update, run);
            if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
                throw new RunConcurrencyException(run.RunId);
        }

        await WriteTasksAsync(connection, transaction, run.RunId, run.ChangedTasks, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        run.RowVersion += 1;
        run.MarkStored();
    }

    public async Task<RunRecord?> FindAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        RunRecord run;
        await using (var select = connection.CreateCommand())
        {
            select.CommandText = """
                SELECT definition, parameters, created_at, state, finished_at, failed_task, error, row_version, pool, trace_parent
                FROM runs WHERE run_id = $id
                """;
            select.Parameters.AddWithValue("$id", runId.ToString());
            await using var reader = await select.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
                return null;
            run = new RunRecord
            {
                RunId = runId,
                Flow = FlowJson.Parse(reader.GetString(0)),
                Parameters = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(reader.GetString(1))!,
                CreatedAt = Parse(reader.GetString(2))!.Value,
                State = Enum.Parse<RunState>(reader.GetString(3)),
                FinishedAt = Parse(NullableString(reader, 4)),
                FailedTask = NullableString(reader, 5),
                Error = NullableString(reader, 6),
                RowVersion = reader.GetInt64(7),
                Pool = reader.GetString(8),
                TraceParent = NullableString(reader, 9),
                Tasks = new Dictionary<string, TaskRecord>(StringComparer.Ordinal),
            };
        }

        await using (var select = connection.CreateCommand())
        {
            select.CommandText = """
                SELECT slug, type, state, attempt, result, error_type, error, worker, ready_at, started_at, finished_at
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
                };
                run.Tasks[task.Slug] = task;
            }
        }

        return run;
    }

    public async Task<IReadOnlyList<RunSummary>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = """
            SELECT run_id, flow, version, state, created_at, finished_at FROM runs
            ORDER BY created_at DESC LIMIT $limit
            """;
        select.Parameters.AddWithValue("$limit", limit);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var runs = new List<RunSummary>();
        while (await reader.ReadAsync(cancellationToken))
            runs.Add(new RunSummary(
                Guid.Parse(reader.GetString(0)), reader.GetString(1), reader.GetString(2),
                Enum.Parse<RunState>(reader.GetString(3)), Parse(reader.GetString(4))!.Value, Parse(NullableString(reader, 5))));
        return runs;
    }

    public async Task SaveFlowAsync(RegisteredFlow flow, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var upsert = connection.CreateCommand();
        upsert.CommandText = """
            INSERT INTO flows (name, version, pool, definition, registered_at) VALUES ($name, $version, $pool, $definition, $at)
            ON CONFLICT (name, version) DO UPDATE SET pool = excluded.pool, definition = excluded.definition, registered_at = excluded.registered_at
            """;
        upsert.Parameters.AddWithValue("$name", flow.Flow.Name);
        upsert.Parameters.AddWithValue("$version", flow.Flow.Version);
        upsert.Parameters.AddWithValue("$pool", flow.Pool);
        upsert.Parameters.AddWithValue("$definition", FlowJson.Write(flow.Flow));
        upsert.Parameters.AddWithValue("$at", Format(flow.RegisteredAt));
        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<RegisteredFlow>> ListFlowsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT definition, pool, registered_at FROM flows";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var flows = new List<RegisteredFlow>();
        while (await reader.ReadAsync(cancellationToken))
            flows.Add(new RegisteredFlow(FlowJson.Parse(reader.GetString(0)), reader.GetString(1), Parse(reader.GetString(2))!.Value));
        return flows;
    }

    static async Task WriteTasksAsync(
        SqliteConnection connection, SqliteTransaction transaction, Guid runId, IEnumerable<TaskRecord> tasks, CancellationToken cancellationToken)
    {
        await using var upsert = connection.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = """
            INSERT INTO tasks (run_id, slug, type, state, attempt, result, error_type, error, worker, ready_at, started_at, finished_at)
            VALUES ($run, $slug, $type, $state, $attempt, $result, $error_type, $error, $worker, $ready, $started, $finished)
            ON CONFLICT (run_id, slug) DO UPDATE SET state = excluded.state, attempt = excluded.attempt,
                result = excluded.result, error_type = excluded.error_type, error = excluded.error,
                worker = excluded.worker, ready_at = excluded.ready_at, started_at = excluded.started_at,
                finished_at = excluded.finished_at
            """;
        var p = new Dictionary<string, SqliteParameter>();
        foreach (var name in new[] { "$run", "$slug", "$type", "$state", "$attempt", "$result", "$error_type", "$error", "$worker", "$ready", "$started", "$finished" })
            p[name] = upsert.Parameters.Add(name, SqliteType.Text);
        p["$run"].Value = runId.ToString();
        await upsert.PrepareAsync(cancellationToken);

        foreach (var task in tasks)
        {
            p["$slug"].Value = task.Slug;
            p["$type"].Value = task.Type;
            p["$state"].Value = task.State.ToString();
            p["$attempt"].Value = task.Attempt;
            p["$result"].Value = task.Result is { } result ? JsonSerializer.Serialize(result) : DBNull.Value; // compact, whatever the sender's formatting
            p["$error_type"].Value = (object?)task.ErrorType ?? DBNull.Value;
            p["$error"].Value = (object?)task.Error ?? DBNull.Value;
            p["$worker"].Value = (object?)task.Worker ?? DBNull.Value;
            p["$ready"].Value = FormatOrNull(task.ReadyAt);
            p["$started"].Value = FormatOrNull(task.StartedAt);
            p["$finished"].Value = FormatOrNull(task.FinishedAt);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    static void AddRunState(SqliteCommand command, RunRecord run)
    {
        command.Parameters.AddWithValue("$state", run.State.ToString());
        command.Parameters.AddWithValue("$finished", FormatOrNull(run.FinishedAt));
        command.Parameters.AddWithValue("$failed", (object?)run.FailedTask ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)run.Error ?? DBNull.Value);
    }

    static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    // Round-trip format in UTC: sorts as text, so ORDER BY created_at is chronological.
    static string Format(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    static object FormatOrNull(DateTimeOffset? time) => time is { } t ? Format(t) : DBNull.Value;

    static DateTimeOffset? Parse(string? text) =>
        text is null ? null : DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
