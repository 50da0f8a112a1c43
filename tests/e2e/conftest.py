"""Fixtures of the end-to-end tests: the toolchain (or a skip that says what is missing) and one
deployment whose stack the tests of a module take through its whole life, in file order."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from tests.e2e.deployment import Deployment, StackRun
from tests.e2e.toolchain import Toolchain, find_toolchain
from tests.support.hosts import TeardownGuard

KEEP = os.environ.get("HE_KEEP", "") not in ("", "0")
D = TypeVar("D", bound=StackRun)


def say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test hosts are network namespaces with their own dockerd and sshd")
    found, why = find_toolchain()
    if found is None:
        pytest.skip(f"e2e not run: {why}")
    return found


@contextmanager
def started(request: pytest.FixtureRequest, dep: D, start: Callable[[], None], keep_note: str = "") -> Iterator[D]:
    """START the run's machines, prepare the program and the stack; at the end print the times and
    tear down (also on a signal), unless KEEP_NOTE is given: then keep everything and say so."""
    guard = TeardownGuard(dep.close)
    try:
        start()
        dep.prepare_program()
        dep.create_stack()
        yield dep
    finally:
        say(request.config, "[e2e] times: " + "; ".join(f"{what} {seconds:.1f}s" for what, seconds in dep.times.lines))
        if keep_note:
            say(request.config, keep_note)
            guard.release()
        else:
            guard.run()


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[Deployment]:
    run_dir = Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-"))
    dep = Deployment(toolchain, run_dir, echo=lambda line: say(request.config, line))
    keep = f"[e2e] HE_KEEP set: hosts and {run_dir} kept (remove the hosts: HS_HOSTS_DIR=/tmp/he-hosts python -m tests.support.hosts down)"
    with started(request, dep, dep.start_hosts, keep if KEEP else "") as running:
        yield running


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        item.module._e2e_failed = item.name  # type: ignore[union-attr]


@pytest.fixture(autouse=True)
def _stop_after_a_failure(request: pytest.FixtureRequest) -> None:
    """The steps of a module build on each other: after a failed one the rest are skipped, not failed again."""
    failed = getattr(request.module, "_e2e_failed", None)
    if failed:
        pytest.skip(f"an earlier step failed: {failed}")
