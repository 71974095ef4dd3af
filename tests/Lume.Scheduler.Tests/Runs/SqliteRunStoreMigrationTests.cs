using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using Microsoft.Data.Sqlite;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>A store file written by an earlier version keeps its runs when a newer Scheduler opens it.</summary>
public sealed class SqliteRunStoreMigrationTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lume-migration-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task AVersion2File_KeepsItsRuns_WithDefinitionAndParameters_AndTakesUpdates()
    {
        var path = Path.Combine(_dir, "scheduler.db");
        var runId = Guid.NewGuid();
        // The schema as version 2 left it: the definition and parameters in the run's own row.
        using (var old = new SqliteConnection($"Data Source={path}"))
        {
            old.Open();
            using var create = old.CreateCommand();
            create.CommandText = $$"""
                PRAGMA journal_mode = WAL;
                CREATE TABLE runs (
                    run_id TEXT PRIMARY KEY, flow TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL,
                    definition TEXT NOT NULL, parameters TEXT NOT NULL, created_at TEXT NOT NULL,
                    finished_at TEXT, failed_task TEXT, error TEXT, row_version INTEGER NOT NULL,
                    pool TEXT NOT NULL DEFAULT 'default', trace_parent TEXT);
                CREATE INDEX runs_by_created ON runs (created_at);
                CREATE TABLE tasks (
                    run_id TEXT NOT NULL, slug TEXT NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,
                    attempt INTEGER NOT NULL, result TEXT, error_type TEXT, error TEXT, worker TEXT,
                    ready_at TEXT, started_at TEXT, finished_at TEXT, PRIMARY KEY (run_id, slug));
                CREATE TABLE flows (
                    name TEXT NOT NULL, version TEXT NOT NULL, pool TEXT NOT NULL, definition TEXT NOT NULL,
                    registered_at TEXT NOT NULL, PRIMARY KEY (name, version));
                INSERT INTO runs VALUES ('{{runId}}', 'diamond', '1', 'Running', $definition, '{"start":1}',
                    '2026-01-01T00:00:00.0000000+00:00', NULL, NULL, NULL, 3, 'default', NULL);
                INSERT INTO tasks (run_id, slug, type, state, attempt, result) VALUES
                    ('{{runId}}', 'a', 'step', 'Completed', 1, '5'), ('{{runId}}', 'b', 'step', 'Ready', 1, NULL),
                    ('{{runId}}', 'c', 'step', 'Ready', 1, NULL), ('{{runId}}', 'd', 'join', 'Pending', 0, NULL);
                PRAGMA user_version = 2;
                """;
            create.Parameters.AddWithValue("$definition", FlowJson.Write(Diamond));
            create.ExecuteNonQuery();
        }

        SqliteConnection.ClearAllPools();
        using var store = new SqliteRunStore(path);
        await store.InitializeAsync(CancellationToken.None);
        var run = (await store.FindAsync(runId, CancellationToken.None))!;

        Assert.Equal("diamond", run.Flow.Name);
        Assert.Equal(4, run.Flow.Tasks.Count);
        Assert.Equal(1, run.Parameters["start"].GetInt32());
        Assert.Equal(5, run.Tasks["a"].Result!.Value.GetInt32());
        Assert.Equal(3, run.RowVersion);

        RunProgression.Apply(run, Completed(run, "b", 6), DateTimeOffset.UtcNow);
        await store.UpdateAsync(run, CancellationToken.None);
        Assert.Equal(TaskState.Completed, (await store.FindAsync(runId, CancellationToken.None))!.Tasks["b"].State);
    }
}
