"""A Lume deployment for the Python tests: a fresh RabbitMQ virtual host and each service as its own process.

It mirrors tests/Lume.Integration.Tests/Cluster.cs, so the Python client is tested against the services exactly as they
run in production (built dlls, the real broker), not against a fake.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[3]
CONFIGURATION = os.environ.get("LUME_BUILD_CONFIGURATION", "Debug")


def _dll(project_dir: str, assembly: str) -> Path:
    return REPO / project_dir / "bin" / CONFIGURATION / "net10.0" / f"{assembly}.dll"


# The one place that says which worker serves flow1: the examples worker once the TaskWorker is split, else the TaskWorker.
WORKER_CANDIDATES = [
    _dll("examples/ExamplesWorker", "Lume.Examples.Worker"),
    _dll("services/TaskWorker", "Lume.TaskWorker"),
]
SCHEDULER = _dll("services/Scheduler", "Lume.Scheduler")
FILE_SERVICE = _dll("services/FileService", "Lume.FileService")
RESULTS = _dll("services/Results", "Lume.Results")


def worker_dll() -> Path:
    """The worker that serves the example flows (flow1, flow2, ...)."""
    for candidate in WORKER_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no worker built; looked for {', '.join(map(str, WORKER_CANDIDATES))} (run dotnet build Lume.sln)")


def _die_with_parent() -> None:
    """In the child before exec: Linux kills it when the test process dies, so a killed pytest leaves no service behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def rabbitmq(*args: str) -> None:
    """scripts/rabbitmq, failing with its output."""
    done = subprocess.run([str(REPO / "scripts" / "rabbitmq"), *args], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/rabbitmq {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")


class ServiceProcess:
    """One service from its built dll, its output kept (stdout and stderr together) for a failing test's message."""

    READY = ("Started on", "Standing by")

    def __init__(self, name: str, dll: Path, env: Dict[str, str], cwd: Path) -> None:
        if not dll.exists():
            raise FileNotFoundError(f"{dll} is not built (run dotnet build Lume.sln)")
        cwd.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.lines: List[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            ["dotnet", str(dll)], cwd=cwd, env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if any(mark in line for mark in self.READY):
                self.ready.set()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Waits for the service's ready line; a service that exits or stays silent fails with its output."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if self.process.poll() is not None:
                self._reader.join(2)
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode} before it was ready:\n{self.output}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready within {timeout:.0f} s:\n{self.output}")

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


class Cluster:
    """Scheduler, worker, FileService and Results on a virtual host of their own, with data under one temp folder."""

    def __init__(self) -> None:
        self.vhost = f"lume-py-{uuid.uuid4().hex[:12]}"
        self.broker_url = f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}"
        self.root = Path(tempfile.mkdtemp(prefix="lume-py-"))
        self.files_root = self.root / "files"
        self.services: List[ServiceProcess] = []
        self._vhost_added = False

    def _env(self, data_dir: Path, **more: str) -> Dict[str, str]:
        return {
            "LUME_BROKER": self.broker_url,
            "LUME_DATA_DIR": str(data_dir),
            "LUME_MESSAGE_DATA_DIR": str(self.root / "message-data"),
            "LUME_LOG_LEVEL": "Information",
            **more,
        }

    def start_service(self, name: str, dll: Path, **more: str) -> ServiceProcess:
        data = self.root / name
        service = ServiceProcess(name, dll, self._env(data, **more), data)
        self.services.append(service)
        return service

    def start(self) -> "Cluster":
        """Starts the Scheduler, then the other services together (in parallel, which halves the wait on two cores).

        A worker registers its flows with the Scheduler as it starts: started first, it would wait for a Scheduler
        that is not there yet and serve nothing for a while.
        """
        rabbitmq("start")
        rabbitmq("vhost", "add", self.vhost)
        self._vhost_added = True
        self.start_service("scheduler", SCHEDULER).wait_ready(120)
        others = [
            self.start_service("worker", worker_dll(), LUME_WORKER__NAME="py-worker"),
            self.start_service("fileservice", FILE_SERVICE, LUME_LOCAL_FILESYSTEM__ROOT=str(self.files_root)),
            self.start_service("results", RESULTS),
        ]
        for service in others:
            service.wait_ready(120)
        return self

    def wait_for_flow(self, client, flow: str, timeout: float = 60.0) -> None:
        """Waits until the Scheduler serves ``flow`` with a live worker pool (the worker's registration has arrived)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(f.name == flow and f.pool_alive for f in client.flows()):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Scheduler did not serve {flow} within {timeout:.0f} s:\n{self.logs}")

    @property
    def logs(self) -> str:
        """Every service's output, for a failing test's message."""
        return "\n".join(f"===== {s.name} (pid {s.process.pid})\n{s.output}" for s in self.services)

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        if self._vhost_added:
            rabbitmq("vhost", "delete", self.vhost)
        shutil.rmtree(self.root, ignore_errors=True)


def main() -> None:
    """Starts a cluster and keeps it until Ctrl+C: for trying the client or the examples by hand."""
    # SIGTERM (and SIGINT, which a shell's background job ignores) end it the same way: services stopped, vhost deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cluster = Cluster()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    print(f"LUME_BROKER={cluster.broker_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
