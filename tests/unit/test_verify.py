"""Verify under mocks: the setting, the `services` output and the endpoints' verify fields, the plan
that verify.sh gets, and the final command of `pulumi up` (only with `verify: true`, after the
swarm, Traefik and every stack service, re-run when one of them changes)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.day2.verify_plan import PlanError, timeout_from_environment, verify_plan
from tests.support.mocks import Program, Registered, base_config, run_program

BCRYPT_LINE = "admin:$2y$05$" + "c" * 53
DEMO = Path(__file__).resolve().parents[2] / "stacks" / "demo.yml"


def verify_command(p: Program) -> Registered:
    (command,) = [r for r in p.of_type("command:remote:Command") if r.name == "verify"]
    return command


def words(command: Registered) -> list[str]:
    """`bash -c PROGRAM verify.sh ARG...`: the script name and its arguments."""
    return shlex.split(command.inputs["create"])[3:]


def demo_with(tmp_path: Path, replicas: int) -> str:
    doc = yaml.safe_load(DEMO.read_text())
    doc["services"]["whoami0"]["deploy"]["replicas"] = replicas
    path = tmp_path / f"demo-{replicas}.yml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def trigger(p: Program) -> str:
    (value,) = verify_command(p).inputs["triggers"]
    return value


# --------------------------------------------------------------------------- the setting


def test_verify_is_off_unless_set_and_accepts_true_or_false_as_text() -> None:
    assert parse_settings(base_config()).verify is False
    assert parse_settings(base_config(verify="true")).verify is True
    assert parse_settings(base_config(verify=True)).verify is True
    assert parse_settings(base_config(verify="false")).verify is False


def test_a_verify_value_that_is_not_a_boolean_is_refused_naming_key_value_and_choices() -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(base_config(verify="yes"))
    assert str(info.value) == "config ha-swarm:verify = 'yes' is refused: true or false"


# --------------------------------------------------------------------------- the outputs it reads


def test_services_output_lists_traefik_its_docker_api_proxy_and_every_stack_service_with_its_count() -> None:
    p = run_program(base_config())
    assert p.outputs["services"] == [
        {"name": "traefik", "mode": "replicated", "replicas": 1},
        {"name": "docker-api-proxy", "mode": "global"},
        {"name": "demo_whoami0", "mode": "replicated", "replicas": 2},
        {"name": "demo_whoami1", "mode": "replicated", "replicas": 2},
    ]
    host_mode = run_program(base_config(traefik={"publishMode": "host"}))
    assert host_mode.outputs["services"][0] == {"name": "traefik", "mode": "global"}


def test_endpoints_output_names_the_answering_addresses_and_the_sticky_cookie() -> None:
    p = run_program(base_config(lab={**base_config()["lab"], "managers": 3, "workers": 1}, traefik={"publishMode": "host"}))
    by_host = {e["host"]: e for e in p.outputs["endpoints"]}
    assert by_host["whoami0.traefik"]["addresses"] == ["10.17.3.11", "10.17.3.12", "10.17.3.13"]
    assert (by_host["whoami0.traefik"]["sticky"], "cookie" in by_host["whoami0.traefik"]) == (False, False)
    assert (by_host["whoami1.traefik"]["sticky"], by_host["whoami1.traefik"]["cookie"]) == (True, "whoami1_sticky")


# --------------------------------------------------------------------------- the final command


def test_no_verify_command_is_declared_without_the_setting() -> None:
    p = run_program(base_config())
    assert not [r for r in p.resources if r.name == "verify"]
    assert not p.of_type("ha-swarm:verify:Verify")


def test_verify_runs_verify_sh_on_the_first_manager_after_the_swarm_traefik_and_every_stack_service() -> None:
    p = run_program(base_config(verify=True))
    command = verify_command(p)
    (component,) = p.of_type("ha-swarm:verify:Verify")
    assert command.parent == component.urn
    assert words(command) == ["verify.sh", "60", "20"], "the default timeout, and a settle longer than Traefik's 15 s poll"
    assert command.inputs["connection"]["host"] == "10.17.3.11"
    assert command.inputs["logging"] == "stdoutAndStderr", "the table shows in the output of `pulumi up`"
    assert "delete" not in command.inputs, "verify changes nothing, so it has nothing to undo"
    services = p.of_type("docker:index/service:Service")
    assert {s.inputs["name"] for s in services} == {"traefik", "docker-api-proxy", "demo_whoami0", "demo_whoami1"}
    for res in [*services, *(r for r in p.resources if r.name.endswith("-settle"))]:
        assert res.urn in command.dependencies, f"verify does not wait for {res.name}"


def test_verify_gets_the_plan_of_every_node_service_and_endpoint_on_stdin() -> None:
    p = run_program(base_config(verify=True))
    assert verify_command(p).inputs["stdin"].splitlines() == [
        "node manager-1",
        "node worker-1",
        "node worker-2",
        "service traefik 1",
        "service docker-api-proxy global",
        "service demo_whoami0 2",
        "service demo_whoami1 2",
        "endpoint http whoami0.traefik demo_whoami0 plain 10.17.3.11 10.17.3.21 10.17.3.22",
        "endpoint http whoami1.traefik demo_whoami1 sticky:whoami1_sticky 10.17.3.11 10.17.3.21 10.17.3.22",
    ]
    # The same plan as `python -m tools.verify` makes from the stack outputs.
    assert verify_command(p).inputs["stdin"] == verify_plan(p.outputs["nodes"], p.outputs["services"], p.outputs["endpoints"])


def test_verify_checks_https_endpoints_on_443_when_https_is_on() -> None:
    p = run_program(base_config(verify=True, traefik={"acme": {"email": "ops@example.test"}}))
    endpoints = [line for line in verify_command(p).inputs["stdin"].splitlines() if line.startswith("endpoint")]
    assert endpoints[0] == "endpoint https whoami0.traefik demo_whoami0 plain 10.17.3.11 10.17.3.21 10.17.3.22"


def test_verify_runs_again_when_a_service_or_a_node_changes_and_not_on_a_run_that_changes_nothing(tmp_path: Path) -> None:
    two = demo_with(tmp_path, 2)
    first = trigger(run_program(base_config(verify=True, stacks=[two])))
    assert trigger(run_program(base_config(verify=True, stacks=[two]))) == first
    assert trigger(run_program(base_config(verify=True, stacks=[demo_with(tmp_path, 5)]))) != first
    assert trigger(run_program(base_config(verify=True, stacks=[two], lab={**base_config()["lab"], "workers": 3}))) != first
    assert trigger(run_program(base_config(verify=True, stacks=[two], nodeLabels={"worker-1": {"zone": "a"}}))) != first


def test_a_preview_that_changes_nothing_knows_the_trigger_of_verify() -> None:
    # In a preview, an output that a resource does not set is unknown: the trigger reads none.
    up = run_program(base_config(verify=True))
    preview = run_program(base_config(verify=True), preview=True)
    assert trigger(preview) == trigger(up)


def test_the_trigger_of_verify_holds_no_credential() -> None:
    p = run_program(base_config(verify=True, traefik={"dashboard": {"users": [BCRYPT_LINE], "allowHttp": True}}))
    command = verify_command(p)
    for value in command.inputs.values():
        assert BCRYPT_LINE not in str(value)
    assert len(trigger(p)) == 64  # a sha256 digest


def test_the_verify_timeout_setting_goes_to_verify_sh_and_runs_it_again() -> None:
    default = verify_command(run_program(base_config(verify=True)))
    assert words(default) == ["verify.sh", "60", "20"]
    command = verify_command(run_program(base_config(verify=True, verifyTimeout=15)))
    assert words(command) == ["verify.sh", "15", "20"]
    assert command.inputs["triggers"] != default.inputs["triggers"]


def test_the_environment_of_the_shell_running_pulumi_does_not_change_the_verify_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # A resource depends on code and config only: a preview from a shell with another
    # HA_SWARM_VERIFY_TIMEOUT (the variable of `make verify`) must not replace the step.
    default = verify_command(run_program(base_config(verify=True)))
    monkeypatch.setenv("HA_SWARM_VERIFY_TIMEOUT", "15")
    command = verify_command(run_program(base_config(verify=True)))
    assert command.inputs == default.inputs


@pytest.mark.parametrize("value", [0, -1, 3601, "soon", True, "60s"])
def test_a_bad_verify_timeout_is_refused(value: object) -> None:
    with pytest.raises(SettingsError, match="verifyTimeout"):
        run_program(base_config(verify=True, verifyTimeout=value))


def test_a_changed_verify_is_deleted_before_it_runs_again_so_a_failed_one_is_not_kept() -> None:
    # A failed create leaves no `verify` in the state: the next up runs it, even after a change undone.
    assert verify_command(run_program(base_config(verify=True))).delete_before_replace


# --------------------------------------------------------------------------- the plan itself


@pytest.mark.parametrize(("value", "expected"), [("", None), ("0", 0), (" 90 ", 90)])
def test_the_timeout_variable_is_a_whole_number_of_seconds(value: str, expected: int | None) -> None:
    assert timeout_from_environment({"HA_SWARM_VERIFY_TIMEOUT": value}) == expected


@pytest.mark.parametrize("value", ["soon", "-5", "1.5"])
def test_a_bad_timeout_variable_is_refused_naming_it(value: str) -> None:
    with pytest.raises(PlanError, match=f"HA_SWARM_VERIFY_TIMEOUT={value!r} is refused: a whole number of seconds"):
        timeout_from_environment({"HA_SWARM_VERIFY_TIMEOUT": value})


NODES = [{"name": "m1", "role": "manager", "address": "10.0.0.1"}]
SERVICES: list[dict[str, Any]] = [{"name": "traefik", "mode": "global"}, {"name": "s_web", "mode": "replicated", "replicas": 0}]
ENDPOINT = {"service": "s_web", "host": "web.example.test", "url": "https://web.example.test/", "addresses": ["10.0.0.1", "2001:db8::1"], "sticky": True}


def test_the_plan_keeps_global_services_zero_replicas_ipv6_addresses_and_sticky_without_a_cookie_name() -> None:
    assert verify_plan(NODES, SERVICES, [ENDPOINT]).splitlines() == [
        "node m1",
        "service traefik global",
        "service s_web 0",
        "endpoint https web.example.test s_web sticky 10.0.0.1 2001:db8::1",
    ]


@pytest.mark.parametrize(
    ("endpoint", "needle"),
    [
        ({k: v for k, v in ENDPOINT.items() if k != "addresses"}, "entry without `addresses`"),
        ({**ENDPOINT, "addresses": []}, "no node answers for it"),
        ({**ENDPOINT, "host": "two words"}, "host name 'two words' cannot be verified"),
        ({**ENDPOINT, "url": "ftp://x/"}, "neither http nor https"),
    ],
)
def test_outputs_that_cannot_be_planned_are_refused_saying_why(endpoint: dict[str, Any], needle: str) -> None:
    with pytest.raises(PlanError, match=needle.replace("(", r"\(")):
        verify_plan(NODES, SERVICES, [endpoint])
