using Microsoft.Data.Sqlite;

namespace Lume.Hosting;

/// <summary>
/// One SQLite file of an embedded store, opened the same way by every service: pooled connections, a wait instead of
/// an error while another writer holds the lock, WAL so readers never block the writer, and synchronous NORMAL.
/// </summary>
public sealed class SqliteDatabase(string path)
{
    readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Creates the folder and switches the file to WAL (which the file keeps), then runs <paramref name="schema"/>.</summary>
    public async Task InitializeAsync(string schema, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;" + schema, cancellationToken);
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // In WAL mode NORMAL syncs at checkpoints, not at every commit: a crashed process loses nothing, only a
        // power cut can take the last commits. That trade is what makes one write per event affordable.
        await ExecuteAsync(connection, null, "PRAGMA synchronous = NORMAL", cancellationToken);
        return connection;
    }

    public static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
