using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Contracts;

/// <summary>
/// Finds a stored result again: what <c>save_db_result</c> returns and <c>load_db_result</c> takes, as upstream:
/// <c>{"project_name": ..., "result_type_string": ..., "query": {"unique_hash": ...}}</c>.
/// </summary>
public sealed record ResultRep(
    [property: JsonPropertyName("project_name")] string ProjectName,
    [property: JsonPropertyName("result_type_string")] string ResultTypeString,
    [property: JsonPropertyName("query")] IReadOnlyDictionary<string, JsonElement> Query);

/// <summary>
/// Asks the Results service to store a result: a JSON object with <c>flow_id</c>, <c>inputs</c>, <c>outputs</c>, and
/// optionally <c>project_name</c> (default <c>local</c>), <c>result_type_string</c> (default the generic Result) and the
/// fields of its type. Answered with <see cref="ResultStored"/> or <see cref="ResultRequestFailed"/>.
/// </summary>
public sealed record StoreResult(JsonElement Result);

/// <summary>The result is stored (or was already: same unique hash, same collection; <paramref name="Created"/> is false then).</summary>
public sealed record ResultStored(ResultRep Rep, bool Created);

/// <summary>
/// Asks for a stored result by its rep (as JSON, checked by the service); with an attribute index such as
/// <c>["outputs", "output1"]</c> only that value is returned. Answered with <see cref="ResultLoaded"/>.
/// </summary>
public sealed record LoadResult(JsonElement Rep, IReadOnlyList<JsonElement>? AttributeIndex);

/// <summary>The stored db-dict, or the value the attribute index picked out of it.</summary>
public sealed record ResultLoaded(JsonElement Value);

/// <summary>
/// Asks for the results of a collection whose fields equal the given values (dotted paths such as
/// <c>inputs.input1</c> reach inside); <c>flow_id</c> is such a field. Answered with <see cref="ResultsFound"/>.
/// </summary>
public sealed record QueryResults(string ProjectName, IReadOnlyDictionary<string, JsonElement> Fields, int Limit);

/// <summary>The matching db-dicts, newest first.</summary>
public sealed record ResultsFound(IReadOnlyList<JsonElement> Results);

/// <summary>A results request was refused; nothing was stored.</summary>
/// <param name="ErrorType">e.g. UnknownResultType, UnknownCollection, NoResultFound, MultipleResultsFound, MalformedResultRep, BadAttributeIndex, InvalidResult.</param>
public sealed record ResultRequestFailed(string ErrorType, string Message);
