using System.Text.Json;
using System.Text.Json.Serialization;
using Lume.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Lume.Web;

/// <summary>Adds Lume's JSON API (runs, flows, results) to an ASP.NET Core host; it talks to the services only over the bus.</summary>
public static class LumeApiExtensions
{
    /// <summary>
    /// Registers what the API needs: <see cref="GatewayOptions"/> from <c>LUME_GATEWAY__*</c> (validated at start), problem
    /// details, JSON in camelCase, the OpenAPI document. The host must also call <c>AddLumeDefaults</c> and <c>AddLumeBus</c>.
    /// </summary>
    public static IHostApplicationBuilder AddLumeApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindLume(builder.Configuration.GetSection("GATEWAY"), "LUME_GATEWAY__")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
        // In place of the plain one of AddLumeBus (before or after this): the event streams show runs as they go, so the
        // process's queue of run events hears their progress too.
        builder.Services.Replace(ServiceDescriptor.Singleton(sp => new RunEvents(sp.GetRequiredService<IBus>(), sp.GetRequiredService<TimeProvider>(), progress: true)));
        builder.Services.AddSingleton<RunStarter>();
        builder.Services.AddSingleton<BearerToken>();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Lume API";
            document.Info.Description = "Runs, flows and results of a Lume deployment. With LUME_GATEWAY__TOKEN set, every /api request needs Authorization: Bearer <token>.";
            return Task.CompletedTask;
        }));
        return builder;
    }

    /// <summary>
    /// The web view and the API, as the Gateway, <c>lume ui</c> and the tests serve them: a bug is a 500 problem+json
    /// without its stack trace, like every other error of the API.
    /// </summary>
    public static WebApplication MapLumeWeb(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseLumeUi();
        app.MapLumeApi();
        return app;
    }

    /// <summary>Maps the API under <c>/api</c> and its OpenAPI document at <c>/openapi/v1.json</c>.</summary>
    public static IEndpointRouteBuilder MapLumeApi(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi();
        var api = app.MapGroup("/api").AddEndpointFilter<BearerToken>()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/runs", LumeApi.ListRunsAsync).WithName("ListRuns")
            .WithSummary("Recent runs, newest first")
            .WithDescription("Filtered by flow name and run state (running, completed, failed, cancelled); at most limit (1-1000, default 50) runs.")
            .Produces<IReadOnlyList<RunSummary>>().ProducesValidationProblem();
        api.MapGet("/runs/{id}", LumeApi.GetRunAsync).WithName("GetRun")
            .WithSummary("A run with all its tasks")
            .WithDescription("The stored state of the run and of each task: inputs' results, error, attempts, worker, times.")
            .Produces<Lume.Contracts.RunSnapshot>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/runs", LumeApi.StartRunAsync).WithName("StartRun")
            .WithSummary("Starts a run of a flow")
            .WithDescription("Publishes RunRequested and waits for the Scheduler to accept it (202, with the run's location) or reject it (400, every problem under errors.parameters).")
            .Accepts<StartRunBody>("application/json")
            .Produces<RunStarted>(StatusCodes.Status202Accepted).ProducesValidationProblem();
        api.MapPost("/runs/{id}/cancel", LumeApi.CancelRunAsync).WithName("CancelRun")
            .WithSummary("Cancels a run")
            .WithDescription("Sends CancelRun, as lume runs cancel does; answers with the run's state afterwards. The body, {\"reason\": \"...\"}, is optional.")
            .Accepts<CancelRunBody>("application/json")
            .Produces<Lume.Contracts.RunSnapshot>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/runs/{id}/tasks/{slug}/approve", LumeApi.ApproveTaskAsync).WithName("ApproveTask")
            .WithSummary("Approves a task that waits for approval (trigger manual_only)")
            .WithDescription("Sends ApproveTask, as lume runs approve does. 409 when the task was not released, with the reason.")
            .Produces<Lume.Contracts.TaskApproval>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapGet("/flows", LumeApi.ListFlowsAsync).WithName("ListFlows")
            .WithSummary("The flows the Scheduler serves")
            .WithDescription("Each with its version, pool, parameters (default and whether required), task names and whether a worker of its pool is alive.")
            .Produces<IReadOnlyList<Lume.Contracts.FlowInfo>>();
        api.MapGet("/runs/{id}/events", LumeApi.StreamRunAsync).WithName("StreamRun")
            .WithSummary("A run's changes, as server-sent events")
            .WithDescription("First event: snapshot (the run as GET /api/runs/{id} gives it); then update ({run: {state, finishedAt, failedTask, error, taskCount}, tasks: " +
                             "[the tasks that changed]}) each time the Scheduler reports progress or the run ends; then end, and the stream closes. " +
                             "A comment every 15 s keeps a quiet stream open.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/events", LumeApi.StreamAllRunsAsync).WithName("StreamRuns")
            .WithSummary("Every run's events, as server-sent events")
            .WithDescription("Event run with data {runId, flow, event: accepted|progressed|completed|failed|cancelled, at} for each run event heard; " +
                             "a comment every 15 s keeps a quiet stream open.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        api.MapGet("/flows/{name}/graph", LumeApi.GetFlowGraphAsync).WithName("GetFlowGraph")
            .WithSummary("The graph of a flow version")
            .WithDescription("Its tasks in order, each with its type, the tasks it waits for (upstream), whether it is mapped, the flow it runs as a subflow, and its trigger. " +
                             "version is required: a run's version.")
            .Produces<Lume.Contracts.FlowGraph>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/files/content", LumeApi.GetFileContentAsync).WithName("GetFileContent")
            .WithSummary("A saved file's bytes")
            .WithDescription("rep is a file rep as JSON ({filename, file_type_string, filesystem_identifier}, as save_file returns it). Sent inline, as text/plain for text " +
                             "types and application/octet-stream otherwise, under a sandbox content security policy.")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream").ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/result", LumeApi.GetResultAsync).WithName("GetResult")
            .WithSummary("A stored result by its rep")
            .WithDescription("rep is a result rep as JSON ({project_name, result_type_string, query}, as save_db_result returns it); answers the stored db-dict.")
            .Produces<System.Text.Json.JsonElement>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/results", LumeApi.QueryResultsAsync).WithName("QueryResults")
            .WithSummary("Stored results of a flow")
            .WithDescription("Asks the Results service for the db-dicts whose flow_id is the given flow, in a project (default local), newest first; at most limit (1-1000, default 50).")
            .Produces<ResultsPage>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }
}
