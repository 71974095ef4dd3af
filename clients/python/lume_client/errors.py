"""The errors a lume_client user meets, by the names LUME-services users already know.

``TaskNotInFlow``, ``TaskNotCompleted``, ``EmptyResult`` and ``FlowFailed`` keep upstream's names so that code
written against LUME-services' ``run_and_return`` catches the same things here. The others say what went wrong on
the way: a refused request, a deadline, a run the Scheduler does not know, a service that did not answer.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


class LumeError(Exception):
    """Base of every error lume_client raises on purpose."""


class TaskNotInFlow(LumeError):
    """The flow has no task of that name; raised before anything runs."""

    def __init__(self, flow: str, task_name: str, tasks: Sequence[str]) -> None:
        self.flow = flow
        self.task_name = task_name
        self.tasks = list(tasks)
        super().__init__(f"TaskNotInFlow: flow '{flow}' has no task '{task_name}'; its tasks: {', '.join(self.tasks)}")


class TaskNotCompleted(LumeError):
    """The task ended without completing (failed, skipped, cancelled ...): it has no result to return."""

    def __init__(self, run_id: str, task_name: str, state: str, error: Optional[str] = None) -> None:
        self.run_id = run_id
        self.task_name = task_name
        self.state = state
        self.error = error
        detail = f": {error}" if error else ""
        super().__init__(f"TaskNotCompleted: task '{task_name}' of run {run_id} is {state}{detail}")


class EmptyResult(LumeError):
    """The task completed but returned nothing (JSON null)."""

    def __init__(self, run_id: str, task_name: str) -> None:
        self.run_id = run_id
        self.task_name = task_name
        super().__init__(f"EmptyResult: task '{task_name}' of run {run_id} completed without a result")


class FlowFailed(LumeError):
    """The run ended without completing: a task failed (``failed_task`` names it) or it was cancelled."""

    def __init__(self, run_id: str, flow: str, state: str, failed_task: Optional[str], message: str) -> None:
        self.run_id = run_id
        self.flow = flow
        self.state = state
        self.failed_task = failed_task
        self.message = message
        where = f" at task '{failed_task}'" if failed_task else ""
        super().__init__(f"FlowFailed: run {run_id} of flow '{flow}' {state}{where}: {message}")


class RunRejected(LumeError):
    """The Scheduler refused the request (unknown flow, missing or undeclared parameter ...); nothing ran.

    ``problems`` lists every problem the Scheduler found, each naming the flow or parameter at fault.
    """

    def __init__(self, run_id: str, flow: str, message: str, problems: Sequence[str]) -> None:
        self.run_id = run_id
        self.flow = flow
        self.problems = list(problems)
        # The Scheduler's message repeats the problems on one line; one per line reads better.
        detail = "".join(f"\n  {p}" for p in self.problems) if self.problems else f" {message}"
        super().__init__(f"run {run_id} of flow '{flow}' was rejected:{detail}")


class RunNotFound(LumeError):
    """The Scheduler does not know this run id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"RunNotFound: the Scheduler knows no run {run_id}")


class LumeTimeout(LumeError):
    """A wait ended at its deadline; for a run, the run itself may still go on (see ``run_id``)."""

    def __init__(self, message: str, run_id: Optional[str] = None) -> None:
        self.run_id = run_id
        super().__init__(message)


class ServiceError(LumeError):
    """A service could not handle a request: it faulted, or answered with an error of its own."""

    def __init__(self, message: str, error_type: Optional[str] = None, detail: Any = None) -> None:
        self.error_type = error_type
        self.detail = detail
        super().__init__(message)


class ResultRequestFailed(ServiceError):
    """The Results service refused a request; ``error_type`` is its name (NoResultFound, InvalidResult, ...)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}", error_type)
