using Lume.Hosting;
using Microsoft.Data.Sqlite;

namespace Lume.Storage;

/// <summary>
/// One SQLite file of an embedded store, opened the same way by every service: pooled connections, a wait instead of
/// an error while another writer holds the lock, WAL so readers never block the writer, and synchronous NORMAL.
/// A file that is damaged, cannot be opened, or is removed while in use stops Lume with a message that names it; the
/// file is never deleted or replaced: it is the user's data.
/// </summary>
/// <param name="path">The file.</param>
/// <param name="name">What the file is, for messages: "the Scheduler's store".</param>
/// <param name="lost">Told once when the file is found removed while in use (the host stops: whatever it writes now would be lost).</param>
public sealed class SqliteDatabase(string path, string name = "the store", Action<string>? lost = null)
{
    // After the first open, never create: a file removed under a running store must not come back empty and unnoticed.
    readonly string _connectionString = Connection(path, SqliteOpenMode.ReadWrite);
    volatile bool _initialized;

    static string Connection(string path, SqliteOpenMode mode) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = mode,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Creates the folder and switches the file to WAL (which the file keeps), then runs <paramref name="schema"/>.</summary>
    public async Task InitializeAsync(string schema, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(path);
        DataFolder.Ensure(Path.GetDirectoryName(full)!, "LUME_DATA_DIR");
        if (Directory.Exists(full))
            throw new LumeStartupException($"{name} {full} is a folder, not a SQLite file; move it aside or point LUME_DATA_DIR elsewhere");
        try
        {
            await using var connection = new SqliteConnection(Connection(path, SqliteOpenMode.ReadWriteCreate));
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;" + schema, cancellationToken);
        }
        catch (SqliteException e)
        {
            throw Explain(e);
        }

        _initialized = true;
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        EnsurePresent();
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // In WAL mode NORMAL syncs at checkpoints, not at every commit: a crashed process loses nothing, only a
            // power cut can take the last commits. That trade is what makes one write per event affordable.
            await ExecuteAsync(connection, null, "PRAGMA synchronous = NORMAL", cancellationToken);
        }
        catch (SqliteException e)
        {
            await connection.DisposeAsync();
            throw Explain(e);
        }

        return connection;
    }

    /// <summary>
    /// Throws when the file was removed after the store opened it. A pooled connection still writes to the removed file
    /// without complaint, so a writer that keeps its connection asks before each write (one stat call).
    /// </summary>
    public void EnsurePresent()
    {
        if (!_initialized || File.Exists(path))
            return;
        var message = $"{name} {Path.GetFullPath(path)} was removed while Lume was using it: what Lume records from now on would be lost. " +
            "Lume stops; restore the file from a backup, or start again for an empty store";
        lost?.Invoke(message);
        throw new LumeStartupException(message);
    }

    /// <summary>What went wrong with the file, in words that name it and say what to do.</summary>
    public Exception Explain(SqliteException e)
    {
        var full = Path.GetFullPath(path);
        return e.SqliteErrorCode switch
        {
            11 or 26 => new LumeStartupException(
                $"{name} {full} is damaged (SQLite: {e.Message.Replace("SQLite Error ", "error ", StringComparison.Ordinal)}). Lume does not touch it: " +
                $"move it aside (mv {full} {full}.damaged) to start with an empty store, or restore it from a backup", e),
            8 => new LumeStartupException($"{name} {full} is read-only: give the user Lume runs as write access, or point LUME_DATA_DIR elsewhere", e),
            13 => new LumeStartupException($"{name} {full} cannot grow: the disk is full", e),
            14 when !File.Exists(full) && _initialized => new LumeStartupException(
                $"{name} {full} was removed while Lume was using it; restore it from a backup, or start again for an empty store", e),
            14 or 23 => new LumeStartupException($"{name} {full} cannot be opened ({e.Message}): check LUME_DATA_DIR and the file's permissions", e),
            _ => e,
        };
    }

    public static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
