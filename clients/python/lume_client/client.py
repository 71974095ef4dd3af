"""The Lume client: run flows and read their results from Python, over the same broker the services use."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._bus import Bus, Envelope, default_broker_url, now_iso
from .errors import (EmptyResult, FlowFailed, LumeTimeout, ResultRequestFailed, RunNotFound, RunRejected,
                     ServiceError, TaskNotCompleted, TaskNotInFlow)

RUN_EVENTS = ("RunAccepted", "RunCompleted", "RunFailed", "RunCancelled")

# A task with a result to return: it ran to the end, or its result was taken from the cache.
DONE_STATES = ("completed", "cached")


@dataclass
class TaskResult:
    """One task of a run as the Scheduler stored it (a TaskSnapshot)."""

    slug: str
    task_type: str
    state: str
    result: Any = None
    error_type: Optional[str] = None
    error: Optional[str] = None
    attempt: int = 0
    worker: Optional[str] = None

    @classmethod
    def from_json(cls, task: Mapping[str, Any]) -> "TaskResult":
        return cls(task["slug"], task.get("taskType", ""), task.get("state", ""), task.get("result"),
                   task.get("errorType"), task.get("error"), task.get("attempt", 0), task.get("worker"))


@dataclass
class RunResult:
    """A run's state and its tasks, in the flow's task order (a RunSnapshot with every task page read)."""

    run_id: str
    flow: str
    version: str
    state: str
    tasks: Dict[str, TaskResult] = field(default_factory=dict)
    failed_task: Optional[str] = None
    error: Optional[str] = None
    created_at: Optional[str] = None
    finished_at: Optional[str] = None
    task_count: int = 0

    @property
    def succeeded(self) -> bool:
        return self.state == "completed"

    @property
    def results(self) -> Dict[str, Any]:
        """Each task's result by slug (None for a task without one)."""
        return {slug: task.result for slug, task in self.tasks.items()}

    @classmethod
    def from_json(cls, snapshot: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> "RunResult":
        return cls(
            run_id=snapshot["runId"], flow=snapshot["flow"], version=snapshot.get("version", ""), state=snapshot["state"],
            tasks={t["slug"]: TaskResult.from_json(t) for t in tasks},
            failed_task=snapshot.get("failedTask"), error=snapshot.get("error"),
            created_at=snapshot.get("createdAt"), finished_at=snapshot.get("finishedAt"),
            task_count=max(snapshot.get("taskCount") or 0, len(tasks)))


@dataclass
class FlowInfo:
    """A flow the Scheduler serves: its parameters (each {"name", "default", "required"}), its task slugs."""

    name: str
    version: str
    pool: str
    parameters: List[Dict[str, Any]]
    tasks: List[str]
    pool_alive: bool

    @property
    def required_parameters(self) -> List[str]:
        return [p["name"] for p in self.parameters if p.get("required")]


@dataclass
class RunHandle:
    """A run started with ``wait=False``: its id at once, and the means to follow it later."""

    run_id: str
    flow: str
    client: "Lume"

    def wait(self, timeout: Optional[float] = None) -> RunResult:
        """Waits for the run's end (at most ``timeout`` seconds; the run goes on past it)."""
        return self.client.wait(self.run_id, timeout)

    def cancel(self, reason: str = "cancelled by lume_client") -> RunResult:
        return self.client.cancel(self.run_id, reason)

    def get(self) -> RunResult:
        return self.client.get_run(self.run_id)


class Lume:
    """A client of Lume's distributed services over RabbitMQ, like ``lume`` with LUME_BROKER set.

    One object holds one connection and a private reply queue; it is not thread-safe (give each thread its own).
    Use it as a context manager, or call :meth:`close`.
    """

    #: How long to wait for the Scheduler to accept or reject a run before asking for it.
    accept_timeout = 30.0
    #: While a run goes on, how often to ask for its state when no end was heard: a lost event never hangs the client.
    poll_interval = 5.0
    #: How long the Scheduler may leave every question unanswered before a wait is abandoned (the run may go on).
    scheduler_silence = 60.0
    #: Tasks per GetRun answer: a big run's tasks are read a page at a time, never as one huge message.
    task_page = 1000

    def __init__(self, broker_url: Optional[str] = None, request_timeout: float = 30.0) -> None:
        """``broker_url`` is an AMQP URL with the virtual host as its path (default: LUME_BROKER, else the local broker)."""
        self.broker_url = broker_url or default_broker_url()
        self.request_timeout = request_timeout
        self._watched: Dict[str, List[Envelope]] = {}
        self._bus = Bus(self.broker_url, self._heard)
        # Bound for the client's whole life, before any request: not even the first event of a run can be missed.
        self._bus.listen(RUN_EVENTS)

    def __enter__(self) -> "Lume":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        self._bus.close()

    def _heard(self, envelope: Envelope) -> None:
        # Kept only for runs this client follows: the queue hears the events of every run on the broker.
        message = envelope.message
        # A Fault carries the message that failed inside its own "message".
        run_id = str((message.get("message") or {}).get("runId", "") if envelope.is_fault else message.get("runId", ""))
        if run_id in self._watched:
            self._watched[run_id].append(envelope)

    # ----- runs

    def run(self, flow: str, parameters: Optional[Mapping[str, Any]] = None, version: Optional[str] = None,
            wait: bool = True, timeout: Optional[float] = None, no_cache: bool = False) -> Union[RunResult, RunHandle]:
        """Runs a flow and returns its state and every task's result; with ``wait=False``, a :class:`RunHandle` at once.

        ``timeout`` is the run's timeout: the Scheduler cancels the run if it has not ended that many seconds after
        accepting it (it then ends ``cancelled``). A refused request raises :class:`RunRejected` with every problem.
        A failed or cancelled run is returned, not raised (see ``state``); :meth:`run_and_return` raises FlowFailed.
        """
        run_id = str(uuid.uuid4())
        self._watched[run_id] = []
        message = {
            "runId": run_id, "flow": flow, "version": version, "parameters": dict(parameters or {}),
            "requestedAt": now_iso(), "timeoutSeconds": timeout, "noCache": no_cache,
        }
        try:
            self._bus.publish("RunRequested", message, faults_here=True)
            self._wait_accepted(run_id, flow)
        except BaseException:
            self._watched.pop(run_id, None)
            raise
        if not wait:
            # The run's events are kept from now on, for RunHandle.wait.
            return RunHandle(run_id, flow, self)
        # A client deadline past the run's own: the Scheduler's cancellation is what normally ends a timed-out run.
        return self.wait(run_id, None if timeout is None else timeout + self.accept_timeout)

    def _wait_accepted(self, run_id: str, flow: str) -> None:
        deadline = time.monotonic() + self.accept_timeout
        while time.monotonic() < deadline:
            for envelope in self._watched[run_id]:
                _raise_fault(envelope, run_id)
                if envelope.type == "RunFailed" and envelope.message.get("kind") == "rejected":
                    message = envelope.message
                    raise RunRejected(run_id, flow, message.get("message", ""), message.get("problems") or [])
                if envelope.type in RUN_EVENTS:
                    return
            self._bus.pump(deadline - time.monotonic())
        # Stored but unannounced (a Scheduler that restarted in between): the run is there, and goes on.
        if self._try_get(run_id, state_only=True) is None:
            raise ServiceError(f"no Scheduler answered the request for run {run_id} within {self.accept_timeout:g} s; "
                               "is it running, on the broker and virtual host this client uses?")

    def wait(self, run_id: str, timeout: Optional[float] = None) -> RunResult:
        """Waits for a run's end and returns its state and tasks; :class:`LumeTimeout` after ``timeout`` seconds.

        It waits for the run's end event, and asks the Scheduler for the run's state every ``poll_interval`` seconds
        as well, so an event lost (a broker or Scheduler restart) costs a few seconds, never a hang.
        """
        run_id = str(run_id)
        heard = self._watched.setdefault(run_id, [])
        deadline = None if timeout is None else time.monotonic() + timeout
        last_answer = time.monotonic()
        next_poll = time.monotonic() + self.poll_interval
        try:
            while True:
                for envelope in heard:
                    _raise_fault(envelope, run_id)
                end = next((e for e in heard if e.type in ("RunCompleted", "RunFailed", "RunCancelled")), None)
                if end is not None:
                    if end.type == "RunFailed" and end.message.get("kind") == "rejected":
                        raise RunRejected(run_id, end.message.get("flow", ""), end.message.get("message", ""),
                                          end.message.get("problems") or [])
                    return self._get_patiently(run_id)
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise LumeTimeout(f"run {run_id} had not ended after {timeout:g} s; it may still go on", run_id)
                if now >= next_poll:
                    snapshot = self._try_get(run_id, state_only=True)
                    if snapshot is not None:
                        last_answer = time.monotonic()
                        if snapshot.state != "running":
                            return self._get_patiently(run_id)
                    elif time.monotonic() - last_answer > self.scheduler_silence:
                        raise ServiceError(f"the Scheduler has not answered for {self.scheduler_silence:g} s; "
                                           f"run {run_id} may still go on")
                    next_poll = time.monotonic() + self.poll_interval
                until = next_poll if deadline is None else min(next_poll, deadline)
                self._bus.pump(until - time.monotonic())
        finally:
            self._watched.pop(run_id, None)

    def run_and_return(self, flow: str, parameters: Optional[Mapping[str, Any]], task_name: str,
                       version: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        """Runs a flow and returns one task's result by name, as upstream's ``run_and_return``.

        A name that matches several tasks (``task``, ``task-2`` ... for a task called more than once, or a mapped
        task's children ``task[0]`` ...) returns their results keyed by slug. Raises TaskNotInFlow before anything
        runs, FlowFailed when the run did not complete, TaskNotCompleted, EmptyResult.
        """
        known = next((f for f in self.flows() if f.name == flow and (version is None or f.version == version)), None)
        if known is not None and not _matching(known.tasks, _flow_task_of(task_name)):
            raise TaskNotInFlow(flow, task_name, known.tasks)
        result = self.run(flow, parameters, version=version, timeout=timeout)
        assert isinstance(result, RunResult)
        matches = _matching(list(result.tasks), task_name)
        if not matches:
            raise TaskNotInFlow(flow, task_name, [s for s in result.tasks if not s.endswith("]")])
        if not result.succeeded:
            raise FlowFailed(result.run_id, result.flow, result.state, result.failed_task, result.error or result.state)
        values = {}
        for slug in matches:
            task = result.tasks[slug]
            if task.state not in DONE_STATES:
                raise TaskNotCompleted(result.run_id, slug, task.state, task.error)
            if task.result is None:
                raise EmptyResult(result.run_id, slug)
            values[slug] = task.result
        return values[matches[0]] if len(matches) == 1 else values

    def get_run(self, run_id: str, state_only: bool = False) -> RunResult:
        """A run's stored state and (unless ``state_only``) every task, read a page at a time; RunNotFound if unknown."""
        snapshot = self._get(str(run_id), state_only, self.request_timeout)
        if snapshot is None:
            raise RunNotFound(str(run_id))
        return snapshot

    def cancel(self, run_id: str, reason: str = "cancelled by lume_client") -> RunResult:
        """Cancels a run; returns its state afterwards (cancelled, or how it had already ended), without tasks."""
        answer = self._bus.request("CancelRun", {"runId": str(run_id), "reason": reason}, self.request_timeout)
        if answer.type == "RunNotFound":
            raise RunNotFound(str(run_id))
        return RunResult.from_json(answer.message, answer.message.get("tasks") or [])

    def flows(self, all_versions: bool = False) -> List[FlowInfo]:
        """The flows the Scheduler serves, with their parameters and task slugs."""
        answer = self._bus.request("ListFlows", {"allVersions": all_versions}, self.request_timeout)
        return [FlowInfo(f["name"], f["version"], f.get("pool", ""), f.get("parameters") or [], f.get("tasks") or [],
                         bool(f.get("poolAlive"))) for f in answer.message.get("flows") or []]

    def register_flow(self, flow: Mapping[str, Any], pool: str = "default") -> FlowInfo:
        """Registers a flow in its JSON form (as ``lume flows register``) for a pool whose workers offer its task types.

        Raises ServiceError listing every problem the Scheduler found (a broken graph, an unknown task type ...).
        """
        answer = self._bus.request("RegisterFlow", {"flow": dict(flow), "pool": pool}, self.request_timeout)
        problems = answer.message.get("problems") or []
        if problems:
            raise ServiceError("the flow was not registered:" + "".join(f"\n  {p}" for p in problems), "FlowRejected", problems)
        return next(f for f in self.flows(all_versions=True)
                    if f.name == answer.message["flow"] and f.version == answer.message["version"])

    def runs(self, limit: int = 20) -> List[Dict[str, Any]]:
        """The most recent runs, newest first (runId, flow, version, state, createdAt, finishedAt)."""
        return list(self._bus.request("ListRuns", {"limit": limit}, self.request_timeout).message.get("runs") or [])

    def _try_get(self, run_id: str, state_only: bool = False) -> Optional[RunResult]:
        """The run, or None when the Scheduler did not answer within 5 s or does not know it."""
        try:
            return self._get(run_id, state_only, 5.0)
        except LumeTimeout:
            return None

    def _get(self, run_id: str, state_only: bool, timeout: float) -> Optional[RunResult]:
        if state_only:
            answer = self._bus.request("GetRun", {"runId": run_id, "stateOnly": True}, timeout)
            return None if answer.type == "RunNotFound" else RunResult.from_json(answer.message, [])
        tasks: List[Dict[str, Any]] = []
        while True:
            answer = self._bus.request(
                "GetRun", {"runId": run_id, "taskOffset": len(tasks), "taskLimit": self.task_page}, timeout)
            if answer.type == "RunNotFound":
                return None
            page = answer.message
            tasks.extend(page.get("tasks") or [])
            if not page.get("tasks") or len(tasks) >= (page.get("taskCount") or 0):
                return RunResult.from_json(page, tasks)

    def _get_patiently(self, run_id: str) -> RunResult:
        """The ended run's full state, asked again while the Scheduler is briefly away (a restart)."""
        since = time.monotonic()
        while True:
            try:
                snapshot = self._get(run_id, False, 5.0)
                if snapshot is None:
                    raise RunNotFound(run_id)
                return snapshot
            except LumeTimeout:
                if time.monotonic() - since > self.scheduler_silence:
                    raise
                self._bus.pump(1.0)

    # ----- results

    def store_result(self, result: Mapping[str, Any]) -> Dict[str, Any]:
        """Stores a result (flow_id, inputs, outputs, optionally project_name, result_type_string); returns its rep."""
        answer = self._results("StoreResult", {"result": dict(result)})
        return answer["rep"]

    def load_result(self, result_rep: Mapping[str, Any], attribute_index: Optional[Sequence[Any]] = None) -> Any:
        """The stored db-dict a result rep finds, or only the value ``attribute_index`` (``["outputs", "x"]``) picks."""
        answer = self._results("LoadResult", {"rep": dict(result_rep),
                                              "attributeIndex": None if attribute_index is None else list(attribute_index)})
        return answer.get("value")

    def query_results(self, project_name: str = "local", fields: Optional[Mapping[str, Any]] = None,
                      limit: int = 100, **more_fields: Any) -> List[Dict[str, Any]]:
        """The db-dicts of a project whose fields equal the given values (``flow_id=...``, ``{"inputs.input1": ...}``), newest first."""
        wanted = {**dict(fields or {}), **more_fields}
        answer = self._results("QueryResults", {"projectName": project_name, "fields": wanted, "limit": limit})
        return list(answer.get("results") or [])

    def _results(self, message_type: str, message: Dict[str, Any]) -> Dict[str, Any]:
        answer = self._bus.request(message_type, message, self.request_timeout)
        if answer.type == "ResultRequestFailed":
            raise ResultRequestFailed(answer.message.get("errorType", ""), answer.message.get("message", ""))
        return answer.message


def _raise_fault(envelope: Envelope, run_id: str) -> None:
    """The Scheduler failed to handle the run request (a bug, not a refusal): say so instead of waiting on."""
    if envelope.is_fault:
        exceptions = envelope.message.get("exceptions") or []
        reasons = "; ".join(f"{e.get('exceptionType')}: {e.get('message')}" for e in exceptions) or "no reason given"
        raise ServiceError(f"the Scheduler could not handle the request for run {run_id}: {reasons}", "Fault", envelope.message)


def _matching(slugs: Sequence[str], task_name: str) -> List[str]:
    """The slugs a task name stands for: itself and its numbered calls (``name-2`` ...), as Prefect's names go.

    A mapped task's child (``square[2]``) is asked for by its own slug; before the run it exists only as its parent.
    """
    pattern = re.compile(re.escape(task_name) + r"-\d+")
    return [s for s in slugs if s == task_name or pattern.fullmatch(s)]


def _flow_task_of(task_name: str) -> str:
    """``square[2]`` -> ``square``: the flow's task a mapped child comes from."""
    match = re.fullmatch(r"(.+)\[\d+\]", task_name)
    return match.group(1) if match else task_name
