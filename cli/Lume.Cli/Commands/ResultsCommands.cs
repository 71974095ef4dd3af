using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Contracts;
using Lume.Flows;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary>Asks the Results service, through the embedded services or over the broker.</summary>
static class ResultsClient
{
    public static Task<object> AskAsync<TRequest, TAnswer>(TRequest request, CancellationToken cancellationToken)
        where TRequest : class
        where TAnswer : class =>
        ServiceRequest.AskAsync<TRequest, TAnswer, ResultRequestFailed>(request, cancellationToken);

    public static int Refused(ResultRequestFailed failed) => ServiceRequest.Refused(failed.ErrorType, failed.Message);

    public static string Compact(object value) => RunReport.Compact(value);
}

/// <summary><c>lume results save FILE.json</c>: stores a result document and prints its rep.</summary>
public sealed class ResultsSaveCommand(IAnsiConsole console) : AsyncCommand<ResultsSaveCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("A JSON object: project_name, flow_id, inputs, outputs, and result_type_string with its fields if not generic")]
        public string File { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var (text, unreadable) = CliInput.ReadTextFile(settings.File, "result file");
        if (text is null)
        {
            Console.Error.WriteLine($"error: {unreadable}");
            return RunCommand.Rejected;
        }

        JsonElement result;
        try
        {
            result = CliInput.ParseJson(text);
        }
        catch (JsonException e)
        {
            Console.Error.WriteLine($"error: result file '{settings.File}': not JSON: {e.Message}");
            return RunCommand.Rejected;
        }

        // What cannot even be sent (an escaped lone surrogate, nesting past the envelope's limit) is refused here, as the service would.
        if (JsonLimits.Check(result, "result") is { } unsendable)
            return ServiceRequest.Refused("InvalidResult", $"result file '{settings.File}': {unsendable}");
        var answer = await ResultsClient.AskAsync<StoreResult, ResultStored>(new StoreResult(result), cancellationToken);
        if (answer is ResultRequestFailed failed)
            return ResultsClient.Refused(failed);
        console.Profile.Out.Writer.WriteLine(ResultsClient.Compact(((ResultStored)answer).Rep));
        return 0;
    }
}

/// <summary><c>lume results list</c>: the results of a project, newest first.</summary>
public sealed class ResultsListCommand(IAnsiConsole console) : AsyncCommand<ResultsListCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--flow <FLOW_ID>")]
        [Description("Only results of this flow_id")]
        public string? Flow { get; init; }

        [CommandOption("--project <NAME>")]
        [Description("The project (collection); default local")]
        public string Project { get; init; } = "local";

        [CommandOption("-n|--limit <N>")]
        [Description("How many results at most, 1 to 10000 (default 50)")]
        public string? LimitText { get; init; }

        public int Limit => CliInput.Count(LimitText, "-n/--limit", 50, 1, 10_000).Value;

        public override ValidationResult Validate() => CliInput.Validate(CliInput.Count(LimitText, "-n/--limit", 50, 1, 10_000).Problem);

        [CommandOption("--json")]
        [Description("Print the db-dicts as a JSON array")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var fields = new Dictionary<string, JsonElement>();
        if (settings.Flow is not null)
            fields["flow_id"] = JsonSerializer.SerializeToElement(settings.Flow);
        var answer = await ResultsClient.AskAsync<QueryResults, ResultsFound>(new QueryResults(settings.Project, fields, settings.Limit), cancellationToken);
        if (answer is ResultRequestFailed failed)
            return ResultsClient.Refused(failed);
        var results = ((ResultsFound)answer).Results;
        if (settings.Json)
        {
            console.Profile.Out.Writer.WriteLine(RunReport.Write(JsonSerializer.SerializeToNode(results)!));
            return 0;
        }

        var table = new Table().AddColumns("unique_hash", "flow_id", "date_modified", "result_type_string");
        foreach (var result in results)
            table.AddRow(new[] { "unique_hash", "flow_id", "date_modified", "result_type_string" }
                .Select(k => Markup.Escape(result.TryGetProperty(k, out var v) ? v.ToString() : "")).ToArray());
        console.Write(table);
        return 0;
    }
}

/// <summary><c>lume results show REP_OR_HASH</c>: the full stored document (the db-dict).</summary>
public sealed class ResultsShowCommand(IAnsiConsole console) : AsyncCommand<ResultsShowCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<REP_OR_HASH>")]
        [Description("A result rep as JSON (what save_db_result returns) or a unique_hash")]
        public string Result { get; init; } = "";

        [CommandOption("--project <NAME>")]
        [Description("With a hash: the project (collection); default local")]
        public string Project { get; init; } = "local";

        [CommandOption("--json")]
        [Description("Print the db-dict on one line")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        object answer;
        if (settings.Result.TrimStart().StartsWith('{'))
        {
            JsonElement rep;
            try
            {
                rep = CliInput.ParseJson(settings.Result);
            }
            catch (JsonException e)
            {
                Console.Error.WriteLine($"error: the result rep is not JSON: {e.Message}");
                return RunCommand.Rejected;
            }

            if (JsonLimits.Check(rep, "rep") is { } unsendable)
                return ServiceRequest.Refused("MalformedResultRep", unsendable);
            answer = await ResultsClient.AskAsync<LoadResult, ResultLoaded>(new LoadResult(rep, null), cancellationToken);
        }
        else
        {
            var query = new Dictionary<string, JsonElement> { ["unique_hash"] = JsonSerializer.SerializeToElement(settings.Result.Trim()) };
            answer = await ResultsClient.AskAsync<QueryResults, ResultsFound>(new QueryResults(settings.Project, query, 1), cancellationToken);
            if (answer is ResultsFound { Results.Count: 0 })
                answer = new ResultRequestFailed("NoResultFound", $"no result in collection '{settings.Project}' has unique_hash {settings.Result.Trim()}");
        }

        if (answer is ResultRequestFailed failed)
            return ResultsClient.Refused(failed);
        var document = answer is ResultLoaded loaded ? loaded.Value : ((ResultsFound)answer).Results[0];
        console.Profile.Out.Writer.WriteLine(settings.Json ? ResultsClient.Compact(document) : RunReport.Write(JsonNode.Parse(document.GetRawText())!));
        return 0;
    }
}
