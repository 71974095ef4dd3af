using System.Globalization;
using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Storage;
using MongoDB.Bson;
using MongoDB.Driver;

namespace Lume.Scheduler.Runs;

/// <summary>
/// The production Scheduler store on MongoDB: a document per run in <c>runs</c>, its tasks an array in flow order
/// (so an event updates one element in place), and a document per flow version in <c>flows</c>. A server that does not
/// answer or refuses the settings is reported as a <see cref="StoreUnavailableException"/> naming the variables to check.
/// </summary>
public sealed class MongoRunStore(IMongoDatabase database) : IRunStore, IFlowStore, ISchedulerLease, ICacheStore
{
    readonly IMongoCollection<BsonDocument> _cache = database.GetCollection<BsonDocument>("task_cache");
    readonly IMongoCollection<BsonDocument> _runs = database.GetCollection<BsonDocument>("runs");
    readonly IMongoCollection<BsonDocument> _flows = database.GetCollection<BsonDocument>("flows");
    readonly IMongoCollection<BsonDocument> _lease = database.GetCollection<BsonDocument>("scheduler_lease");
    readonly IMongoCollection<BsonDocument> _pools = database.GetCollection<BsonDocument>("pool_task_types");

    public Task InitializeAsync(CancellationToken cancellationToken) => GuardAsync(() =>
        _runs.Indexes.CreateManyAsync(
            [
                new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Descending("created_at")),
                new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("state").Ascending("ending")),
                // Lists of one flow's runs (the web view's filter), newest first.
                new CreateIndexModel<BsonDocument>(Builders<BsonDocument>.IndexKeys.Ascending("flow").Descending("created_at")),
            ],
            cancellationToken));

    public async Task<bool> CreateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        var document = new BsonDocument
        {
            ["_id"] = run.RunId.ToString(),
            ["flow"] = run.Flow.Name,
            ["version"] = run.Flow.Version,
            ["pool"] = run.Pool,
            ["trace_parent"] = (BsonValue?)run.TraceParent ?? BsonNull.Value,
            ["definition"] = FlowJson.Write(run.Flow),
            ["parameters"] = JsonSerializer.Serialize(run.Parameters),
            ["created_at"] = Format(run.CreatedAt),
            ["deadline_at"] = FormatOrNull(run.DeadlineAt),
            ["no_cache"] = run.NoCache,
            ["parent"] = run.Parent is { } parent ? JsonSerializer.Serialize(parent) : BsonNull.Value,
            ["row_version"] = 1L,
            ["tasks"] = new BsonArray(run.OrderedTasks.Select(Task)),
        };
        AddRunState(document, run);
        try
        {
            await GuardAsync(() => _runs.InsertOneAsync(document, cancellationToken: cancellationToken));
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }

        run.RowVersion = 1;
        run.MarkStored();
        return true;
    }

    public async Task UpdateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        var set = new BsonDocument();
        AddRunState(set, run);
        foreach (var task in run.ChangedTasks)
            set[$"tasks.{run.Graph.PositionOf(task.Slug)}"] = Task(task);

        var update = new BsonDocument { ["$set"] = set, ["$inc"] = new BsonDocument("row_version", 1L) };
        var filter = new BsonDocument { ["_id"] = run.RunId.ToString(), ["row_version"] = run.RowVersion };
        var result = await GuardAsync(() => _runs.UpdateOneAsync(filter, update, cancellationToken: cancellationToken));
        if (result.MatchedCount == 0)
            throw new RunConcurrencyException(run.RunId);
        run.RowVersion += 1;
        run.MarkStored();
    }

    public async Task<RunRecord?> FindAsync(Guid runId, CancellationToken cancellationToken)
    {
        var document = await GuardAsync(() => _runs.Find(new BsonDocument("_id", runId.ToString())).FirstOrDefaultAsync(cancellationToken));
        if (document is null)
            return null;
        return new RunRecord
        {
            RunId = runId,
            Flow = FlowJson.Parse(document["definition"].AsString),
            Pool = document["pool"].AsString,
            TraceParent = document.TryGetValue("trace_parent", out var trace) ? String(trace) : null,
            Parameters = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(document["parameters"].AsString)!,
            CreatedAt = Parse(document["created_at"])!.Value,
            State = Enum.Parse<RunState>(document["state"].AsString),
            FinishedAt = Parse(document["finished_at"]),
            FailedTask = String(document["failed_task"]),
            Error = String(document["error"]),
            RowVersion = document["row_version"].ToInt64(),
            DeadlineAt = document.TryGetValue("deadline_at", out var deadline) ? Parse(deadline) : null,
            NoCache = document.TryGetValue("no_cache", out var noCache) && noCache.AsBoolean,
            Parent = document.TryGetValue("parent", out var parent) && String(parent) is { } json ? JsonSerializer.Deserialize<RunParent>(json) : null,
            Ending = document.TryGetValue("ending", out var ending) ? Enum.Parse<Outbox>(ending.AsString) : Outbox.Sent,
            Tasks = document["tasks"].AsBsonArray.Select(t => t.AsBsonDocument).Select(t => new TaskRecord
            {
                Slug = t["slug"].AsString,
                Type = t["type"].AsString,
                State = Enum.Parse<TaskState>(t["state"].AsString),
                Attempt = t["attempt"].ToInt32(),
                Result = String(t["result"]) is { } result ? JsonSerializer.Deserialize<JsonElement>(result) : null,
                ErrorType = String(t["error_type"]),
                Error = String(t["error"]),
                Worker = String(t["worker"]),
                ReadyAt = Parse(t["ready_at"]),
                StartedAt = Parse(t["started_at"]),
                FinishedAt = Parse(t["finished_at"]),
                Token = t.TryGetValue("token", out var token) && !token.IsBsonNull ? Guid.Parse(token.AsString) : Guid.Empty,
                Dispatch = t.TryGetValue("dispatch", out var dispatch) ? Enum.Parse<Outbox>(dispatch.AsString) : Outbox.Sent,
                DueAt = t.TryGetValue("due_at", out var due) ? Parse(due) : null,
                PastAttempts = t.TryGetValue("past_attempts", out var past) && !past.IsBsonNull
                    ? JsonSerializer.Deserialize<List<AttemptRecord>>(past.AsString)! : [],
                CacheKey = t.TryGetValue("cache_key", out var key) && !key.IsBsonNull ? key.AsString : null,
                ClaimedAt = t.TryGetValue("claimed_at", out var claim) ? Parse(claim) : null,
            }).ToDictionary(t => t.Slug, StringComparer.Ordinal),
        };
    }

    public async Task<bool> TryHoldLeaseAsync(string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        // Matches only a lease this holder has, or one that lapsed; when another holds it, the upsert's insert hits the taken _id.
        var filter = new BsonDocument
        {
            ["_id"] = "scheduler",
            ["$or"] = new BsonArray { new BsonDocument("holder", holder), new BsonDocument("expires_at", new BsonDocument("$lt", Format(now))) },
        };
        var update = new BsonDocument("$set", new BsonDocument { ["holder"] = holder, ["expires_at"] = Format(until) });
        try
        {
            await GuardAsync(() => _lease.UpdateOneAsync(filter, update, new UpdateOptions { IsUpsert = true }, cancellationToken));
            return true;
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            return false;
        }
    }

    public Task ReleaseLeaseAsync(string holder, CancellationToken cancellationToken) =>
        GuardAsync(() => _lease.DeleteOneAsync(new BsonDocument { ["_id"] = "scheduler", ["holder"] = holder }, cancellationToken));

    public async Task<(string Holder, DateTimeOffset Until)?> LeaseHolderAsync(CancellationToken cancellationToken)
    {
        var lease = await GuardAsync(() => _lease.Find(new BsonDocument("_id", "scheduler")).FirstOrDefaultAsync(cancellationToken));
        return lease is null ? null : (lease["holder"].AsString, Parse(lease["expires_at"])!.Value);
    }

    public async Task<string> StoreIdAsync(CancellationToken cancellationToken)
    {
        var update = new BsonDocument("$setOnInsert", new BsonDocument("store_id", Guid.NewGuid().ToString("N")));
        var options = new FindOneAndUpdateOptions<BsonDocument> { IsUpsert = true, ReturnDocument = ReturnDocument.After };
        var identity = await GuardAsync(() => _lease.FindOneAndUpdateAsync<BsonDocument>(new BsonDocument("_id", "store"), update, options, cancellationToken));
        return identity["store_id"].AsString;
    }

    public async Task<JsonElement?> FindCachedAsync(string key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var filter = new BsonDocument { ["_id"] = key, ["expires_at"] = new BsonDocument("$gt", Format(now)) };
        var entry = await GuardAsync(() => _cache.Find(filter).FirstOrDefaultAsync(cancellationToken));
        return entry is null ? null : JsonSerializer.Deserialize<JsonElement>(entry["result"].AsString);
    }

    public Task SaveCachedAsync(StoreCache entry, CancellationToken cancellationToken) => GuardAsync(() => _cache.ReplaceOneAsync(
        new BsonDocument("_id", entry.Key),
        new BsonDocument
        {
            ["_id"] = entry.Key,
            ["result"] = JsonSerializer.Serialize(entry.Result),
            ["flow"] = entry.Flow,
            ["task"] = entry.TaskSlug,
            ["run_id"] = entry.RunId.ToString(),
            ["stored_at"] = Format(entry.StoredAt),
            ["expires_at"] = Format(entry.ExpiresAt),
        },
        new ReplaceOptions { IsUpsert = true },
        cancellationToken));

    public async Task<IReadOnlyList<Guid>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        var filter = new BsonDocument("$or", new BsonArray
        {
            new BsonDocument("state", RunState.Running.ToString()),
            new BsonDocument("ending", new BsonDocument("$ne", Outbox.Sent.ToString())),
        });
        var documents = await GuardAsync(() => _runs.Find(filter).Project(Builders<BsonDocument>.Projection.Include("_id")).ToListAsync(cancellationToken));
        return documents.Select(d => Guid.Parse(d["_id"].AsString)).ToArray();
    }

    public async Task<IReadOnlyList<RunSummary>> ListAsync(int limit, string? flow, RunState? state, CancellationToken cancellationToken)
    {
        var filter = new BsonDocument();
        if (flow is not null)
            filter["flow"] = flow;
        if (state is { } wanted)
            filter["state"] = wanted.ToString();
        var documents = await GuardAsync(() => _runs.Find(filter)
            .Project(Builders<BsonDocument>.Projection.Exclude("tasks").Exclude("definition").Exclude("parameters"))
            .Sort(Builders<BsonDocument>.Sort.Descending("created_at"))
            .Limit(limit)
            .ToListAsync(cancellationToken));

        // One grouped query for the page: every task, mapped tasks' children included, is an element of its run's array
        // (pending ones too), so the counts are those of the elements' states. Only the states leave the server.
        var ids = new BsonArray(documents.Select(d => d["_id"]));
        var groups = ids.Count == 0 ? [] : await GuardAsync(() => _runs.Aggregate()
            .Match(new BsonDocument("_id", new BsonDocument("$in", ids)))
            .Project(new BsonDocument("tasks.state", 1))
            .Unwind("tasks")
            .Group(new BsonDocument
            {
                ["_id"] = new BsonDocument { ["run"] = "$_id", ["state"] = "$tasks.state" },
                ["count"] = new BsonDocument("$sum", 1),
            })
            .ToListAsync(cancellationToken));
        var counts = new Dictionary<string, Dictionary<TaskState, int>>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var key = group["_id"].AsBsonDocument;
            var run = key["run"].AsString;
            if (!counts.TryGetValue(run, out var byState))
                counts[run] = byState = [];
            byState[Enum.Parse<TaskState>(key["state"].AsString)] = group["count"].ToInt32();
        }

        return documents.Select(d => new RunSummary(
            Guid.Parse(d["_id"].AsString), d["flow"].AsString, d["version"].AsString, Enum.Parse<RunState>(d["state"].AsString),
            Parse(d["created_at"])!.Value, Parse(d["finished_at"]),
            counts.TryGetValue(d["_id"].AsString, out var byState) ? byState : new Dictionary<TaskState, int>())).ToArray();
    }

    public Task SaveFlowAsync(RegisteredFlow flow, CancellationToken cancellationToken) => GuardAsync(() =>
        _flows.ReplaceOneAsync(
            new BsonDocument("_id", $"{flow.Flow.Name}@{flow.Flow.Version}"),
            new BsonDocument
            {
                ["_id"] = $"{flow.Flow.Name}@{flow.Flow.Version}",
                ["name"] = flow.Flow.Name,
                ["version"] = flow.Flow.Version,
                ["pool"] = flow.Pool,
                ["definition"] = FlowJson.Write(flow.Flow),
                ["registered_at"] = Format(flow.RegisteredAt),
            },
            new ReplaceOptions { IsUpsert = true },
            cancellationToken));

    public async Task<IReadOnlyList<RegisteredFlow>> ListFlowsAsync(CancellationToken cancellationToken) =>
        (await GuardAsync(() => _flows.Find(FilterDefinition<BsonDocument>.Empty).ToListAsync(cancellationToken)))
            .Select(d => new RegisteredFlow(FlowJson.Parse(d["definition"].AsString), d["pool"].AsString, Parse(d["registered_at"])!.Value))
            .ToArray();

    public Task SaveTaskTypesAsync(string pool, IReadOnlyCollection<string> taskTypes, CancellationToken cancellationToken) => GuardAsync(() =>
        _pools.ReplaceOneAsync(
            new BsonDocument("_id", pool),
            new BsonDocument { ["_id"] = pool, ["task_types"] = new BsonArray(taskTypes.Order(StringComparer.Ordinal)) },
            new ReplaceOptions { IsUpsert = true },
            cancellationToken));

    public async Task<IReadOnlySet<string>?> TaskTypesAsync(string pool, CancellationToken cancellationToken) =>
        await GuardAsync(() => _pools.Find(new BsonDocument("_id", pool)).FirstOrDefaultAsync(cancellationToken)) is { } document
            ? document["task_types"].AsBsonArray.Select(t => t.AsString).ToHashSet(StringComparer.Ordinal)
            : null;

    Task<T> GuardAsync<T>(Func<Task<T>> operation) => MongoSettings.GuardAsync(database, operation);

    Task GuardAsync(Func<Task> operation) => MongoSettings.GuardAsync(database, operation);

    static BsonDocument Task(TaskRecord task) => new()
    {
        ["slug"] = task.Slug,
        ["type"] = task.Type,
        ["state"] = task.State.ToString(),
        ["attempt"] = task.Attempt,
        // Results are kept as JSON text: their key order and number forms stay exactly as the task returned them.
        ["result"] = task.Result is { } result ? JsonSerializer.Serialize(result) : BsonNull.Value,
        ["error_type"] = (BsonValue?)task.ErrorType ?? BsonNull.Value,
        ["error"] = (BsonValue?)task.Error ?? BsonNull.Value,
        ["worker"] = (BsonValue?)task.Worker ?? BsonNull.Value,
        ["ready_at"] = FormatOrNull(task.ReadyAt),
        ["started_at"] = FormatOrNull(task.StartedAt),
        ["finished_at"] = FormatOrNull(task.FinishedAt),
        ["token"] = task.Attempt > 0 ? task.Token.ToString() : BsonNull.Value,
        ["dispatch"] = task.Dispatch.Stored(),
        ["due_at"] = FormatOrNull(task.DueAt),
        ["past_attempts"] = task.PastAttempts.Count > 0 ? JsonSerializer.Serialize(task.PastAttempts) : BsonNull.Value,
        ["cache_key"] = (BsonValue?)task.CacheKey ?? BsonNull.Value,
        ["claimed_at"] = FormatOrNull(task.ClaimedAt),
    };

    static void AddRunState(BsonDocument document, RunRecord run)
    {
        document["state"] = run.State.ToString();
        document["finished_at"] = FormatOrNull(run.FinishedAt);
        document["failed_task"] = (BsonValue?)run.FailedTask ?? BsonNull.Value;
        document["error"] = (BsonValue?)run.Error ?? BsonNull.Value;
        document["ending"] = run.Ending.Stored();
    }

    // Round-trip text in UTC, as in the SQLite store: it sorts chronologically and keeps every tick.
    static string Format(DateTimeOffset time) => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    static BsonValue FormatOrNull(DateTimeOffset? time) => time is { } t ? Format(t) : BsonNull.Value;

    static string? String(BsonValue value) => value.IsBsonNull ? null : value.AsString;

    static DateTimeOffset? Parse(BsonValue value) =>
        value.IsBsonNull ? null : DateTimeOffset.Parse(value.AsString, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
