"""lume_client: run Lume flows and read their results from Python, on RabbitMQ with pika alone.

    from lume_client import Lume
    with Lume("amqp://guest:guest@127.0.0.1:5672/") as lume:
        run = lume.run("flow1", {"text1": "Hello", "text2": "World", "filename": "hello.txt",
                                 "filesystem_identifier": "local"})
        print(run.state, run.results["save_text_file"])
"""

from .client import FlowInfo, Lume, RunHandle, RunResult, TaskResult
from .errors import (EmptyResult, FlowFailed, LumeError, LumeTimeout, ResultRequestFailed, RunNotFound, RunRejected,
                     ServiceError, TaskNotCompleted, TaskNotInFlow)
from .results import GENERIC_RESULT, result_rep, unique_hash

__all__ = [
    "Lume", "RunResult", "RunHandle", "TaskResult", "FlowInfo",
    "LumeError", "TaskNotInFlow", "TaskNotCompleted", "EmptyResult", "FlowFailed", "RunRejected", "RunNotFound",
    "LumeTimeout", "ServiceError", "ResultRequestFailed",
    "unique_hash", "result_rep", "GENERIC_RESULT",
]
