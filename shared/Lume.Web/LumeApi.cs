using System.Text.Json;
using System.Text.RegularExpressions;
using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Lume.Web;

/// <summary>The API's handlers: each turns a request into the message the CLI would send, and the answer into JSON or problem+json.</summary>
static partial class LumeApi
{
    const int DefaultLimit = 50;
    const int MaxLimit = 1000;

    static readonly string[] RunStates = Enum.GetValues<RunState>().Select(WireEnumConverter<RunState>.Name).ToArray();

    public static async Task<IResult> ListRunsAsync(string? flow, string? state, string? limit,
        IClientFactory clients, IOptions<GatewayOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var count = Limit(limit, errors);
        RunState? wanted = null;
        if (!string.IsNullOrEmpty(state))
        {
            var index = Array.IndexOf(RunStates, state);
            if (index < 0)
                errors["state"] = [$"'{state}' is not a run state; one of {string.Join(", ", RunStates)}"];
            else
                wanted = Enum.GetValues<RunState>()[index];
        }

        if (errors.Count > 0)
            return Results.ValidationProblem(errors);
        return await AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
        {
            var list = await Client<ListRuns>(clients, options)
                .GetResponse<RunList>(new ListRuns(count, string.IsNullOrEmpty(flow) ? null : flow, wanted), cancellationToken);
            var now = time.GetUtcNow();
            return Results.Ok(list.Message.Runs
                .Select(r => new RunSummary(r.RunId, r.Flow, r.Version, r.State, r.CreatedAt, r.FinishedAt, ((r.FinishedAt ?? now) - r.CreatedAt).TotalSeconds,
                    r.TaskCounts ?? new Dictionary<string, int>()))
                .ToArray());
        });
    }

    public static async Task<IResult> GetRunAsync(string id, IClientFactory clients, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var runId))
            return NotAGuid(id);
        return await AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
        {
            var run = await Client<GetRun>(clients, options).ReadRunAsync(runId, cancellationToken);
            return run is null ? RunNotFound(runId) : Results.Ok(run);
        });
    }

    public static async Task<IResult> StartRunAsync(HttpRequest request, RunStarter starter, IClientFactory clients, IOptions<GatewayOptions> options,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var (body, errors) = await ReadStartRunAsync(request, cancellationToken);
        if (body is null)
            return Results.ValidationProblem(errors);
        var runId = NewId.NextGuid();
        var accept = TimeSpan.FromSeconds(options.Value.AcceptTimeoutSeconds);
        return await AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
        {
            var heard = await starter.StartAsync(
                new RunRequested(runId, body.Flow, body.Version, body.Parameters ?? new Dictionary<string, JsonElement>(), time.GetUtcNow(), body.TimeoutSeconds),
                accept, cancellationToken);
            var location = $"/api/runs/{runId}";
            switch (heard)
            {
                case RunAccepted accepted:
                    return Results.Accepted(location, new RunStarted(runId, accepted.Flow, accepted.Version, accepted.TaskCount, location));
                case RunFailed { Kind: RunFailureKind.Rejected } rejected:
                    return Results.ValidationProblem(Keyed(rejected.Problems.Count > 0 ? rejected.Problems : [rejected.Message]),
                        title: "The run was rejected", detail: rejected.Message);
                case RunFailed failed: // it was accepted, and ended before its acceptance was heard
                    return Results.Accepted(location, new RunStarted(runId, failed.Flow, null, null, location));
                case Fault<RunRequested> fault:
                    return Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "The Scheduler could not handle the request",
                        detail: string.Join("; ", fault.Exceptions.Select(e => $"{e.ExceptionType}: {e.Message}")));
            }

            // Stored but unannounced (a Scheduler that restarted in between): the run is there and goes on.
            if ((await Client<GetRun>(clients, options).GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId, StateOnly: true), cancellationToken)).Message
                is RunSnapshot stored)
                return Results.Accepted(location, new RunStarted(runId, stored.Flow, stored.Version, null, location));
            return Unavailable("Scheduler");
        }, longer: accept + RunStarter.ConnectTimeout);
    }

    public static async Task<IResult> CancelRunAsync(string id, HttpRequest request, IClientFactory clients, IOptions<GatewayOptions> options,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var runId))
            return NotAGuid(id);
        var reason = "cancelled through the API";
        if (request.ContentLength is not 0 && (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0))
        {
            try
            {
                using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    return Invalid("body", "must be a JSON object, e.g. {\"reason\": \"...\"}");
                if (document.RootElement.TryGetProperty("reason", out var given) && given.ValueKind != JsonValueKind.Null)
                {
                    if (given.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(given.GetString()))
                        return Invalid("reason", "must be a non-empty string");
                    reason = given.GetString()!;
                }
            }
            catch (JsonException e)
            {
                return Invalid("body", $"is not JSON: {e.Message}");
            }
        }

        return await AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
            (await Client<CancelRun>(clients, options).GetResponse<RunSnapshot, RunNotFound>(new CancelRun(runId, reason), cancellationToken)).Message
                is RunSnapshot snapshot
                ? Results.Ok(snapshot)
                : RunNotFound(runId));
    }

    public static async Task<IResult> ApproveTaskAsync(string id, string slug, IClientFactory clients, IOptions<GatewayOptions> options,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var runId))
            return NotAGuid(id);
        return await AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
            (await Client<ApproveTask>(clients, options).GetResponse<TaskApproval, RunNotFound>(new ApproveTask(runId, slug), cancellationToken)).Message switch
            {
                TaskApproval { Approved: true } approval => Results.Ok(approval),
                TaskApproval refused => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The task was not approved", detail: refused.Reason,
                    extensions: new Dictionary<string, object?> { ["runId"] = runId, ["taskSlug"] = slug }),
                _ => RunNotFound(runId),
            });
    }

    public static Task<IResult> ListFlowsAsync(IClientFactory clients, IOptions<GatewayOptions> options, CancellationToken cancellationToken) =>
        AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
            Results.Ok((await Client<ListFlows>(clients, options).GetResponse<FlowList>(new ListFlows(false), cancellationToken)).Message.Flows));

    public static async Task<IResult> QueryResultsAsync([FromQuery(Name = "flow_id")] string? flowId, string? project, string? limit,
        IClientFactory clients, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var count = Limit(limit, errors);
        if (string.IsNullOrWhiteSpace(flowId))
            errors["flow_id"] = ["is required: the flow whose results to list"];
        if (project is not null && string.IsNullOrWhiteSpace(project))
            errors["project"] = ["must not be empty; leave it out for local"];
        if (errors.Count > 0)
            return Results.ValidationProblem(errors);
        var projectName = project ?? "local";
        return await AskAsync("Results service", options, cancellationToken, async cancellationToken =>
        {
            var fields = new Dictionary<string, JsonElement> { ["flow_id"] = JsonSerializer.SerializeToElement(flowId) };
            var response = await Client<QueryResults>(clients, options)
                .GetResponse<ResultsFound, ResultRequestFailed>(new QueryResults(projectName, fields, count), cancellationToken);
            return response.Message switch
            {
                ResultsFound found => Results.Ok(new ResultsPage(projectName, flowId!, found.Results)),
                ResultRequestFailed failed => Refused(failed.ErrorType, failed.Message),
                _ => throw new InvalidOperationException("unexpected answer"),
            };
        });
    }

    public static async Task<IResult> GetFlowGraphAsync(string name, string? version, IClientFactory clients, IOptions<GatewayOptions> options,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(version))
            return Invalid("version", "is required: the flow version whose graph to show (a run's version, as GET /api/runs/{id} gives it)");
        return await AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
            (await Client<GetFlowGraph>(clients, options).GetResponse<FlowGraph, FlowNotFound>(new GetFlowGraph(name, version), cancellationToken)).Message switch
            {
                FlowGraph graph => Results.Ok(graph),
                FlowNotFound missing => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Flow not found", detail: missing.Problem,
                    extensions: new Dictionary<string, object?> { ["flow"] = missing.Flow, ["version"] = missing.Version }),
                _ => throw new InvalidOperationException("unexpected answer"),
            });
    }

    public static async Task<IResult> GetFileContentAsync(string? rep, HttpResponse response, IClientFactory clients, IOptions<GatewayOptions> options,
        MessageDataFolder claims, CancellationToken cancellationToken)
    {
        var (json, problem) = ReadRep(rep, "a file rep: {\"filename\": ..., \"file_type_string\": ..., \"filesystem_identifier\": ...}, as save_file returns it");
        FileRep? file = null;
        if (problem is null)
        {
            try
            {
                file = json.Deserialize<FileRep>();
            }
            catch (JsonException e)
            {
                problem = $"is not a file rep: {e.Message}";
            }

            if (problem is null && (file?.Filename is null || file.FileTypeString is null || file.FilesystemIdentifier is null))
                problem = "a file rep has the strings filename, file_type_string and filesystem_identifier, as save_file returns it";
        }

        if (problem is not null)
            return Invalid("rep", problem);
        return await AskAsync("FileService", options, cancellationToken, async cancellationToken =>
        {
            var answer = (await Client<LoadFile>(clients, options).GetResponse<FileLoaded, FileRequestFailed>(new LoadFile(file!, Raw: true), cancellationToken)).Message;
            if (answer is FileRequestFailed failed)
                return Refused(failed.ErrorType, failed.Message);
            var loaded = (FileLoaded)answer;
            // Shown in the browser's tab, never run: a saved HTML file gets no script and no access to this origin (sandbox).
            response.Headers.ContentSecurityPolicy = "sandbox";
            response.Headers.ContentDisposition = new Microsoft.Net.Http.Headers.ContentDispositionHeaderValue("inline")
                { FileNameStar = Path.GetFileName(file!.Filename) }.ToString();
            var contentType = TextFileType().IsMatch(file.FileTypeString!) ? "text/plain; charset=utf-8" : "application/octet-stream";
            if (loaded.Content is not { HasValue: true } claim)
                return Results.Bytes(loaded.Obj.GetBytesFromBase64(), contentType);
            // A large file arrives by claim check: streamed to the browser, never held whole. The copy was made for this
            // request alone, so it goes as soon as it is sent (or the browser leaves), not when the sweep finds it.
            return Results.Stream(async body =>
            {
                try
                {
                    await using var source = await claim.Value;
                    await source.CopyToAsync(body, response.HttpContext.RequestAborted);
                }
                finally
                {
                    claims.Delete(claim.Address);
                }
            }, contentType);
        });
    }

    // The FileService's text types (TextFile, YAMLFile, JSONFile), by alias or by their type string's serializer.
    [GeneratedRegex(@"^(text|yaml|json)(file)?$|\[(Text|YAML|JSON)Serializer\]$", RegexOptions.IgnoreCase)]
    private static partial Regex TextFileType();

    public static async Task<IResult> GetResultAsync(string? rep, IClientFactory clients, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        var (json, problem) = ReadRep(rep, "a result rep: {\"project_name\": ..., \"result_type_string\": ..., \"query\": {...}}, as save_db_result returns it");
        // What cannot even be sent (nesting past the envelope's limit) is refused here, as the service would.
        problem ??= JsonLimits.Check(json, "rep");
        if (problem is not null)
            return Invalid("rep", problem);
        return await AskAsync("Results service", options, cancellationToken, async cancellationToken =>
            (await Client<LoadResult>(clients, options).GetResponse<ResultLoaded, ResultRequestFailed>(new LoadResult(json, null), cancellationToken)).Message switch
            {
                ResultLoaded loaded => Results.Ok(loaded.Value),
                ResultRequestFailed failed => Refused(failed.ErrorType, failed.Message),
                _ => throw new InvalidOperationException("unexpected answer"),
            });
    }

    // The rep query parameter: a JSON object, or the problem with it.
    static (JsonElement Json, string? Problem) ReadRep(string? rep, string what)
    {
        if (string.IsNullOrWhiteSpace(rep))
            return (default, $"is required: {what}");
        try
        {
            var json = JsonSerializer.Deserialize<JsonElement>(rep);
            return json.ValueKind == JsonValueKind.Object ? (json, null) : (default, $"must be a JSON object: {what}");
        }
        catch (JsonException e)
        {
            return (default, $"is not JSON: {e.Message}");
        }
    }

    // A service refused the request: its error type names what is wrong, its message where.
    static IResult Refused(string errorType, string message) => Results.Problem(statusCode: StatusOf(errorType), title: errorType, detail: message,
        extensions: new Dictionary<string, object?> { ["errorType"] = errorType });

    static int StatusOf(string errorType) => errorType switch
    {
        "UnknownCollection" or "NoResultFound" or "UnknownResultType" or "FileNotFound" or "DirectoryNotFound" or "FilesystemNotConfigured" => StatusCodes.Status404NotFound,
        "ServiceUnavailable" or "StoreUnavailable" or "StoreMisconfigured" => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    // The body of POST /api/runs, read by hand so that each problem names its field (the binder's own error names none).
    static async Task<(StartRunBody? Body, Dictionary<string, string[]> Errors)> ReadStartRunAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException e)
        {
            errors["body"] = [$"is not JSON: {e.Message}"];
            return (null, errors);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors["body"] = ["must be a JSON object: {\"flow\": \"...\", \"parameters\": {...}}"];
                return (null, errors);
            }

            string? flow = null, version = null;
            double? timeout = null;
            Dictionary<string, JsonElement>? parameters = null;
            if (!root.TryGetProperty("flow", out var flowValue) || flowValue.ValueKind == JsonValueKind.Null)
                errors["flow"] = ["is required: the name of the flow to run"];
            else if (flowValue.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(flowValue.GetString()))
                errors["flow"] = ["must be a non-empty string"];
            else
                flow = flowValue.GetString();
            if (root.TryGetProperty("parameters", out var given) && given.ValueKind != JsonValueKind.Null)
            {
                if (given.ValueKind != JsonValueKind.Object)
                    errors["parameters"] = ["must be a JSON object of parameter names and values"];
                else
                    parameters = given.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
            }

            if (root.TryGetProperty("version", out var versionValue) && versionValue.ValueKind != JsonValueKind.Null)
            {
                if (versionValue.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(versionValue.GetString()))
                    errors["version"] = ["must be a non-empty string, or null for the newest version"];
                else
                    version = versionValue.GetString();
            }

            if (root.TryGetProperty("timeoutSeconds", out var timeoutValue) && timeoutValue.ValueKind != JsonValueKind.Null)
            {
                if (timeoutValue.ValueKind != JsonValueKind.Number || !timeoutValue.TryGetDouble(out var seconds) || !(seconds > 0))
                    errors["timeoutSeconds"] = ["must be a number of seconds above 0, or null"];
                else
                    timeout = seconds;
            }

            return errors.Count > 0 ? (null, errors) : (new StartRunBody(flow!, parameters, version, timeout), errors);
        }
    }

    // The Scheduler's problems keyed by what each names: parameters.<name>, timeoutSeconds, or the flow.
    static Dictionary<string, string[]> Keyed(IEnumerable<string> problems) => problems
        .GroupBy(p => ParameterProblem().Match(p) is { Success: true } m ? $"parameters.{m.Groups[1].Value}"
            : p.StartsWith("timeout:", StringComparison.Ordinal) ? "timeoutSeconds" : "flow")
        .ToDictionary(g => g.Key, g => g.ToArray());

    [GeneratedRegex("^parameter '([^']+)'")]
    private static partial Regex ParameterProblem();

    static int Limit(string? text, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(text))
            return DefaultLimit;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= MaxLimit)
            return limit;
        errors["limit"] = [$"must be a whole number from 1 to {MaxLimit}"];
        return DefaultLimit;
    }

    static IRequestClient<T> Client<T>(IClientFactory clients, IOptions<GatewayOptions> options)
        where T : class => clients.CreateRequestClient<T>(RequestTimeout.After(s: options.Value.RequestTimeoutSeconds));

    // MassTransit's request timeout starts once the request is sent: with the broker away, the send itself waits, for
    // ever. The ask as a whole is bounded too, a little past the request timeout.
    static async Task<IResult> AskAsync(string service, IOptions<GatewayOptions> options, CancellationToken requestAborted, Func<CancellationToken, Task<IResult>> ask,
        TimeSpan? longer = null)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        bounded.CancelAfter(TimeSpan.FromSeconds(options.Value.RequestTimeoutSeconds + 5) + (longer ?? TimeSpan.Zero));
        try
        {
            return await ask(bounded.Token);
        }
        catch (RequestTimeoutException)
        {
            return Unavailable(service);
        }
        catch (OperationCanceledException) when (!requestAborted.IsCancellationRequested)
        {
            return Unavailable(service);
        }
        catch (TimeoutException)
        {
            // The bus never became ready to hear the answer: the broker is away.
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The broker is not reachable",
                detail: "could not listen for the answer on the broker; is it running, at the address LUME_BROKER names?",
                extensions: new Dictionary<string, object?> { ["service"] = "broker" });
        }
        catch (RequestFaultException e)
        {
            return Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: $"The {service} could not handle the request",
                detail: string.Join("; ", e.Fault?.Exceptions.Select(x => $"{x.ExceptionType}: {x.Message}") ?? []));
        }
    }

    static IResult Unavailable(string service) => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable,
        title: $"The {service} did not answer", detail: $"no {service} answered in time; is it running, on the broker this gateway uses?",
        extensions: new Dictionary<string, object?> { ["service"] = service });

    static IResult RunNotFound(Guid runId) => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Run not found",
        detail: $"the Scheduler knows no run {runId}", extensions: new Dictionary<string, object?> { ["runId"] = runId });

    static IResult NotAGuid(string id) => Invalid("id", $"'{id}' is not a run id (a GUID)");

    static IResult Invalid(string field, string problem) => Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] });
}
