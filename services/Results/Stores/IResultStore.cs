using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lume.Results.Stores;

/// <summary>Where full results live: one collection per project, one document per unique hash in it.</summary>
public interface IResultStore
{
    /// <summary>Creates what the store needs (tables, the unique index on unique_hash) at start.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores the db-dict unless its collection already holds one with the same unique_hash; returns the stored
    /// document (the earlier one when it existed) and whether this call created it.
    /// </summary>
    Task<(JsonObject Stored, bool Created)> InsertAsync(JsonObject dbDict, CancellationToken cancellationToken);

    /// <summary>Whether the collection holds any result.</summary>
    Task<bool> CollectionExistsAsync(string collection, CancellationToken cancellationToken);

    /// <summary>
    /// The documents of a collection whose fields equal the given values, newest first. A field name may be a dotted
    /// path (<c>inputs.input1</c>); values are compared as JSON.
    /// </summary>
    Task<IReadOnlyList<JsonObject>> FindAsync(string collection, IReadOnlyDictionary<string, JsonElement> fields, int limit, CancellationToken cancellationToken);
}
