"""The client against the real services: runs, their results and errors, cancellation, paging, flows."""

import time
import uuid

import pytest

from lume_client import (EmptyResult, FlowFailed, Lume, LumeTimeout, RunHandle, RunNotFound, RunRejected, RunResult,
                         TaskNotCompleted, TaskNotInFlow)

FLOW1 = {"text1": "Hello", "text2": "World", "filename": "py-hello.txt", "filesystem_identifier": "local"}


def test_run_waits_and_returns_state_and_task_results(lume, cluster):
    run = lume.run("flow1", FLOW1)
    assert isinstance(run, RunResult)
    assert run.state == "completed" and run.succeeded
    assert list(run.tasks) == ["configure_lume_services", "append_text", "save_text_file"]
    assert all(task.state == "completed" for task in run.tasks.values())
    assert run.results["append_text"] == "HelloWorld"
    assert run.results["save_text_file"] == {
        "filename": "py-hello.txt",
        "file_type_string": "lume_services.files.file:File[TextSerializer]",
        "filesystem_identifier": "local",
    }
    assert (cluster.files_root / "py-hello.txt").read_text() == "HelloWorld"


def test_run_without_waiting_returns_a_handle_at_once(lume):
    handle = lume.run("flow1", {**FLOW1, "filename": "py-nowait.txt"}, wait=False)
    assert isinstance(handle, RunHandle)
    uuid.UUID(handle.run_id)
    finished = handle.wait(timeout=60)
    assert finished.run_id == handle.run_id and finished.state == "completed"
    assert lume.get_run(handle.run_id).results["append_text"] == "HelloWorld"


def test_run_and_return_gives_one_task_result(lume):
    assert lume.run_and_return("flow1", {**FLOW1, "text2": "Python"}, "append_text") == "HelloPython"


def test_run_and_return_refuses_an_unknown_task_before_running(lume):
    before = {r["runId"] for r in lume.runs(50)}
    with pytest.raises(TaskNotInFlow) as error:
        lume.run_and_return("flow1", FLOW1, "no_such_task")
    assert "save_text_file" in error.value.tasks
    assert {r["runId"] for r in lume.runs(50)} == before


def test_run_and_return_raises_flow_failed_naming_the_task(lume):
    with pytest.raises(FlowFailed) as error:
        lume.run_and_return("failing_flow", {"message": "boom"}, "raise_error")
    assert error.value.failed_task == "raise_error"
    assert error.value.state == "failed"
    assert "boom" in str(error.value)


def test_a_failed_run_is_returned_not_raised_by_run(lume):
    run = lume.run("failing_flow", {"message": "kaput"})
    assert run.state == "failed" and run.failed_task == "raise_error"
    assert run.tasks["raise_error"].state == "failed" and "kaput" in run.tasks["raise_error"].error
    assert run.tasks["append_text"].state == "skipped"


def test_run_and_return_raises_task_not_completed_for_a_skipped_task(lume):
    # branch runs one of two tasks; the other is skipped and the run still completes.
    run = lume.run("branch", {})
    skipped = next(slug for slug, task in run.tasks.items() if task.state == "skipped")
    with pytest.raises(TaskNotCompleted) as error:
        lume.run_and_return("branch", {}, skipped)
    assert error.value.state == "skipped"


def test_run_and_return_raises_empty_result_for_a_null_result(lume):
    # A flow registered from its JSON form: identity of null completes, with no result.
    lume.register_flow({"name": "py_empty", "version": "1", "parameters": [], "tasks": [
        {"slug": "nothing", "type": "identity", "inputs": {"value": {"from": "value", "value": None}}, "upstream": []}]})
    with pytest.raises(EmptyResult) as error:
        lume.run_and_return("py_empty", {}, "nothing")
    assert error.value.task_name == "nothing"


def test_a_rejected_request_lists_every_problem(lume):
    with pytest.raises(RunRejected) as error:
        lume.run("flow1", {"text1": "only this", "surprise": 1})
    problems = "\n".join(error.value.problems)
    for name in ("text2", "filename", "filesystem_identifier", "surprise"):
        assert name in problems
    with pytest.raises(RunRejected) as unknown:
        lume.run("no_such_flow", {})
    assert "no_such_flow" in "\n".join(unknown.value.problems)


def test_cancel_a_running_run(lume):
    handle = lume.run("chaos_slow", {}, wait=False)
    cancelled = lume.cancel(handle.run_id, "a test cancels it")
    assert cancelled.state == "cancelled"
    finished = handle.wait(timeout=60)
    assert finished.state == "cancelled"
    assert any(task.state == "cancelled" for task in finished.tasks.values())


def test_the_run_timeout_cancels_the_run(lume):
    run = lume.run("chaos_slow", {}, timeout=1.5)
    assert run.state == "cancelled"


def test_waiting_past_the_deadline_raises_and_the_run_goes_on(lume):
    handle = lume.run("chaos_slow", {}, wait=False)
    with pytest.raises(LumeTimeout) as error:
        handle.wait(timeout=0.5)
    assert error.value.run_id == handle.run_id
    assert lume.get_run(handle.run_id, state_only=True).state == "running"
    lume.cancel(handle.run_id)


def test_unknown_runs_are_not_found(lume):
    missing = str(uuid.uuid4())
    with pytest.raises(RunNotFound):
        lume.get_run(missing)
    with pytest.raises(RunNotFound):
        lume.cancel(missing)


def test_get_run_reads_the_tasks_a_page_at_a_time(lume):
    run = lume.run("fanout_20", {})
    saved = lume.task_page
    lume.task_page = 3
    try:
        paged = lume.get_run(run.run_id)
    finally:
        lume.task_page = saved
    assert paged.task_count == len(run.tasks) and list(paged.tasks) == list(run.tasks)
    assert paged.results == run.results


def test_flows_lists_flow1_and_its_parameters(lume):
    flow1 = next(f for f in lume.flows() if f.name == "flow1")
    assert flow1.required_parameters == ["text1", "text2", "filename", "filesystem_identifier"]
    assert flow1.tasks == ["configure_lume_services", "append_text", "save_text_file"]
    assert flow1.pool_alive


def test_a_client_that_missed_the_end_event_finds_the_end_by_asking(lume, cluster):
    """A second client never heard this run's events (it was not listening): its wait ends by GetRun polling."""
    first = lume.run("flow1", {**FLOW1, "filename": "py-missed.txt"})
    with Lume(cluster.broker_url) as late:
        late.poll_interval = 0.2
        started = time.monotonic()
        found = late.wait(first.run_id, timeout=30)
        assert time.monotonic() - started < 10
    assert found.state == "completed" and found.results == first.results


def test_a_fault_of_the_run_request_ends_the_wait_with_its_reason(cluster):
    """The Scheduler's Fault<RunRequested> (a consumer that threw) goes to the faultAddress the client gave; the wait
    ends with it at once. The services no longer throw on any request we know of, so the fault is sent by hand."""
    import json
    import pika
    from lume_client import ServiceError

    run_id = str(uuid.uuid4())
    with Lume(cluster.broker_url) as client:
        fault = {
            "messageType": ["urn:message:MassTransit:Fault[[Lume.Contracts:RunRequested]]", "urn:message:MassTransit:Fault"],
            "message": {"exceptions": [{"exceptionType": "System.NullReferenceException", "message": "oops"}],
                        "message": {"runId": run_id, "flow": "flow1"}},
        }
        sender = pika.BlockingConnection(pika.URLParameters(cluster.broker_url))
        sender.channel().basic_publish(client._bus.queue, "", json.dumps(fault))  # the client's own reply exchange
        sender.close()
        with pytest.raises(ServiceError, match="NullReferenceException: oops"):
            client.wait(run_id, timeout=10)
