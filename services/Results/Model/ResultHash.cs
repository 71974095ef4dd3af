using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Lume.Results.Model;

/// <summary>
/// Upstream's <c>unique_hash</c>: the MD5 hex digest of <c>json.dumps({"inputs": ..., "outputs": ..., "flow_id": ...})</c>,
/// so a Python client and Lume agree on the identity of a result.
/// </summary>
public static class ResultHash
{
    /// <summary>The JSON text that is hashed.</summary>
    public static string HashedText(JsonElement inputs, JsonElement outputs, string flowId)
    {
        var text = new StringBuilder("{\"inputs\": ");
        PythonJson.Write(inputs, text);
        text.Append(", \"outputs\": ");
        PythonJson.Write(outputs, text);
        text.Append(", \"flow_id\": ");
        PythonJson.WriteString(flowId, text);
        return text.Append('}').ToString();
    }

    /// <summary>The hash; empty inputs, outputs or flow_id are an error, as upstream.</summary>
    public static string Compute(JsonElement inputs, JsonElement outputs, string flowId)
    {
        var problems = new List<string>();
        if (string.IsNullOrEmpty(flowId))
            problems.Add("flow_id is empty");
        if (IsEmpty(inputs))
            problems.Add("inputs is empty");
        if (IsEmpty(outputs))
            problems.Add("outputs is empty");
        if (problems.Count > 0)
            throw new ResultException("InvalidResult", $"cannot compute unique_hash: {string.Join(", ", problems)}");
        // MD5 names results here, as upstream; it is an identity, not a security measure.
#pragma warning disable CA5351
        return Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(HashedText(inputs, outputs, flowId))));
#pragma warning restore CA5351
    }

    static bool IsEmpty(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => !value.EnumerateObject().Any(),
        JsonValueKind.Undefined or JsonValueKind.Null => true,
        _ => false,
    };
}

/// <summary>A results request that cannot be carried out, with the error type users meet by name.</summary>
public sealed class ResultException(string errorType, string message) : Exception(message)
{
    public string ErrorType { get; } = errorType;
}
