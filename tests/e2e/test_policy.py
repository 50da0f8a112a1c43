"""Issue 9: the policy pack (`policy/`) run by the real CLI and language host through the Automation API
(`policy_packs=[...]`), on previews.  ha-swarm's own program passes it; a small program that breaks
one rule at a time (tests/e2e/policy_programs) is refused at preview with that rule, mandatory, and
only that one.  Nothing is created: the addresses are in TEST-NET-1, no host is needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.e2e.deployment import StackRun
from tests.e2e.toolchain import REPO, Toolchain

PACK = REPO / "policy"
CASES_PROGRAM = Path(__file__).resolve().parent / "policy_programs"
# A preview with the pack takes seconds; one that waits for the pack's port waits for ever.
PREVIEW_LIMIT = 180
HTPASSWD = "admin:$2y$05$" + "a" * 53
# The case of tests/e2e/policy_programs -> the rule it breaks.
CASES = {
    "even-managers": "odd-manager-count",
    "insecure-dashboard": "traefik-dashboard-authenticated",
    "socket-read-write": "docker-socket-read-only",
    "socket-facing-internet": "no-docker-socket-facing-the-internet",
    "token-stdout": "swarm-secrets-stay-secret",
    "no-restart-policy": "restart-policy",
}


class HaSwarmPreview(StackRun):
    """ha-swarm's program on target cloud: three managers and a worker that nothing answers for, with
    autolock, a token rotation and the dashboard on (every rule has something to look at)."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.stack_name = "policy-ha-swarm"

    def configure(self) -> None:
        hosts = [{"name": f"m{i}", "address": f"192.0.2.1{i}", "role": "manager"} for i in (1, 2, 3)]
        hosts.append({"name": "w1", "address": "192.0.2.21", "role": "worker"})
        values = {
            "target": "cloud",
            "cloud": json.dumps({"hosts": hosts}),
            "swarm": json.dumps({"autolock": True, "rotateTokens": 1}),
            # The dashboard without HTTPS needs its explicit opt-out (the settings refuse it otherwise).
            "traefik": json.dumps({"dashboard": {"users": [HTPASSWD], "allowHttp": True}}),
        }
        self.set_config(values, private_key(self.run_dir), secret=("traefik",))


class PolicyCases(StackRun):
    """tests/e2e/policy_programs, its `case` chosen before each preview."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.stack_name = "policy-cases"
        self.work_dir = run_dir / "cases"

    def prepare_program(self) -> None:
        self.work_dir.mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py"):
            (self.work_dir / name).symlink_to(CASES_PROGRAM / name)
        for name in ("ha_swarm", ".venv"):
            (self.work_dir / name).symlink_to(REPO / name)
        self.backend.mkdir(exist_ok=True)

    def configure(self) -> None:
        self.set_case("compliant")

    def set_case(self, case: str) -> None:
        assert self.stack is not None
        self.stack.set_config("ha-swarm-policy-cases:case", auto.ConfigValue(case))


def private_key(run_dir: Path) -> str:
    key = run_dir / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "policy-e2e", "-f", str(key)], check=True)
    return key.read_text()


def stop_hung_preview(lines: list[str]) -> None:
    """The preview has run for PREVIEW_LIMIT seconds: kill the CLI this process started and the pack."""
    lines.append(f"the preview with the policy pack did not end within {PREVIEW_LIMIT}s (did the pack announce its port?)")
    subprocess.run(["pkill", "-KILL", "-P", str(os.getpid()), "pulumi"], check=False)
    subprocess.run(["pkill", "-KILL", "-f", f"python.* .*{PACK}"], check=False)


def previewed(run: StackRun, what: str) -> tuple[bool, list[auto.events.PolicyEvent], str]:
    """A preview with the policy pack: whether it passed, the policy events, what the CLI printed.
    A preview that hangs is killed after PREVIEW_LIMIT seconds and counts as failed."""
    assert run.stack is not None
    events: list[auto.events.PolicyEvent] = []
    lines: list[str] = []
    watchdog = threading.Timer(PREVIEW_LIMIT, stop_hung_preview, args=(lines,))

    def on_event(event: auto.EngineEvent) -> None:
        if event.policy_event is not None:
            events.append(event.policy_event)

    passed = True
    with run.times.step(what):
        watchdog.start()
        try:
            run.stack.preview(policy_packs=[str(PACK)], on_event=on_event, on_output=lines.append, color="never")
        except auto.CommandError as error:
            passed = False
            lines.append(str(error))
        finally:
            watchdog.cancel()
    return passed, events, "\n".join(lines)


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[tuple[HaSwarmPreview, PolicyCases]]:
    built = toolchain.root / "state" / "langhost.key"
    if "runplugin=" not in (built.read_text() if built.exists() else ""):
        pytest.skip("the toolchain's language host predates policy packs (toolchain/langhost-fallback): `make toolchain` rebuilds it in seconds")
    # As in a user's shell: the pack's stdout is a pipe, block-buffered unless PYTHONUNBUFFERED is set
    # (it is in some CI environments, and would hide a host that starts the pack without `-u`).
    unbuffered = os.environ.pop("PYTHONUNBUFFERED", None)
    run_dir = Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-policy-"))
    say = request.config.pluginmanager.getplugin("terminalreporter")
    echo: Callable[[str], None] = say.write_line if say is not None else print
    own, cases = HaSwarmPreview(toolchain, run_dir, echo), PolicyCases(toolchain, run_dir, echo)
    try:
        for run in (own, cases):
            run.prepare_program()
            run.create_stack()
        yield own, cases
    finally:
        echo("[e2e] times: " + "; ".join(f"{what} {seconds:.1f}s" for run in (own, cases) for what, seconds in run.times.lines))
        shutil.rmtree(run_dir, ignore_errors=True)
        if unbuffered is not None:
            os.environ["PYTHONUNBUFFERED"] = unbuffered


def test_ha_swarms_own_program_passes_the_policy_pack_at_preview(runs: tuple[HaSwarmPreview, PolicyCases]) -> None:
    own, _ = runs
    passed, events, printed = previewed(own, "preview of ha-swarm's program with the policy pack")
    assert passed, printed[-4000:]
    assert [e for e in events if e.enforcement_level != "advisory"] == [], [(e.policy_name, e.message) for e in events]
    assert "ha-swarm@v1.0.0" in printed, "the policy pack did not run"


def test_the_compliant_case_passes_so_each_refusal_below_is_its_rules_doing(runs: tuple[HaSwarmPreview, PolicyCases]) -> None:
    _, cases = runs
    cases.set_case("compliant")
    passed, events, printed = previewed(cases, "preview of the compliant case")
    assert passed, printed[-4000:]
    assert events == [], [(e.policy_name, e.message) for e in events]


@pytest.mark.parametrize(("case", "rule"), CASES.items(), ids=list(CASES))
def test_a_program_breaking_one_rule_is_refused_at_preview_by_that_rule(runs: tuple[HaSwarmPreview, PolicyCases], case: str, rule: str) -> None:
    _, cases = runs
    cases.set_case(case)
    passed, events, printed = previewed(cases, f"preview of the case {case}")
    assert not passed, f"the preview of {case} passed:\n{printed[-3000:]}"
    assert {(e.policy_name, e.enforcement_level) for e in events} == {(rule, "mandatory")}, [(e.policy_name, e.message) for e in events]
    assert all(e.policy_pack_name == "ha-swarm" for e in events)
    assert rule in printed and "mandatory" in printed
