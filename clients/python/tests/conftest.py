"""One Lume cluster (services as processes on a fresh virtual host) for the whole session, and a client on it."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lume_client, from this checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))       # cluster.py

from cluster import Cluster  # noqa: E402
from lume_client import Lume  # noqa: E402


@pytest.fixture(scope="session")
def cluster():
    started = Cluster()
    try:
        started.start()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def lume(cluster):
    with Lume(cluster.broker_url) as client:
        cluster.wait_for_flow(client, "flow1")
        yield client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used the cluster shows every service's output: the reason is usually there."""
    outcome = yield
    report = outcome.get_result()
    cluster_fixture = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and cluster_fixture is not None:
        report.sections.append(("lume services", cluster_fixture.logs[-20000:]))
