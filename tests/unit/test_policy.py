"""The policy pack's rules (policy/rules.py), called on their own: on every resource of the real
program under mocks (which must pass), and on resources that break one rule each."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from ha_swarm.nodes.remote import Step
from policy.rules import POLICIES, node_script
from tests.support.mocks import Program, Registered, base_config, run_program

BCRYPT_LINE = "admin:$2y$05$" + "a" * 53
SERVICE = "docker:index/service:Service"
COMMAND = "command:remote:Command"
SOCKET = "/var/run/docker.sock"


def policy(name: str) -> Any:
    (found,) = [p for p in POLICIES if p.name == name]
    return found


def options(secret_outputs: Sequence[str] = ()) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), list(secret_outputs))


def violations_of_resource(name: str, resource_type: str, props: dict[str, Any], secret_outputs: Sequence[str] = ()) -> list[str]:
    """What policy NAME reports for one resource, handed over as the engine does (unknowns checked)."""
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props), f"urn:test::{name}", "res", options(secret_outputs), None)
    policy(name).validate(args, lambda message, urn=None: found.append(message))
    return found


def as_policy_resource(res: Registered) -> PolicyResource:
    return PolicyResource(res.type, unknown_checking_proxy(copy.deepcopy(res.inputs)), res.urn, res.name, options(res.additional_secret_outputs), None, None, [], {})


def violations_of_stack(resources: Sequence[PolicyResource]) -> list[str]:
    found: list[str] = []
    policy("odd-manager-count").validate(StackValidationArgs(list(resources)), lambda message, urn=None: found.append(message))
    return found


def command(step: Step, *, stdout_secret: bool = True, logging: str = "none") -> tuple[dict[str, Any], list[str]]:
    return {"create": step.command(), "logging": logging}, (["stdout", "stderr"] if stdout_secret else [])


def command_resource(name: str, step: Step) -> PolicyResource:
    return PolicyResource(COMMAND, unknown_checking_proxy({"create": step.command()}), f"urn:test::{name}", name, options(), None, None, [], {})


def service(**task: Any) -> dict[str, Any]:
    container = {"image": "example/app:1", **task.pop("container", {})}
    return {"name": "app", "labels": task.pop("labels", []), "taskSpec": {"containerSpec": container, "restartPolicy": {"condition": "any"}, **task}}


def labels(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": k, "value": v} for k, v in pairs.items()]


# -------------------------------------------------------------------------------- the pack


def test_the_pack_has_the_six_mandatory_rules() -> None:
    assert [p.name for p in POLICIES] == [
        "odd-manager-count",
        "traefik-dashboard-authenticated",
        "docker-socket-read-only",
        "no-docker-socket-facing-the-internet",
        "swarm-secrets-stay-secret",
        "restart-policy",
    ]
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in POLICIES)
    assert isinstance(POLICIES[0], StackValidationPolicy)
    assert all(isinstance(p, ResourceValidationPolicy) for p in POLICIES[1:])


@pytest.mark.parametrize(
    "config",
    [
        base_config(),
        base_config(lab={**base_config()["lab"], "managers": 3, "workers": 2}, swarm={"autolock": True, "rotateTokens": 1}),
        base_config(traefik={"dashboard": {"users": [BCRYPT_LINE], "allowHttp": True}, "publishMode": "host"}),
        base_config(stacks=["stacks/demo.yml", "stacks/visualizer.yml"], stackVariables={"VISUALIZER_USERS": BCRYPT_LINE}),
        base_config(lab={**base_config()["lab"], "managers": 3, "workers": 1}, traefik={"acme": {"email": "ops@example.test"}}),
        base_config(lab={**base_config()["lab"], "managers": 3, "workers": 1}, traefik={"acme": {"email": "ops@example.test", "issuer": "swarm"}}),
    ],
    ids=["dev-stack", "three-managers-autolock-rotation", "dashboard", "visualizer", "acme-issuer-node", "acme-issuer-swarm"],
)
def test_the_program_itself_passes_every_rule(config: dict[str, Any]) -> None:
    p: Program = run_program(config, secret=("traefik",) if "traefik" in config else ())
    for res in p.resources:
        for rule in POLICIES[1:]:
            assert violations_of_resource(rule.name, res.type, copy.deepcopy(res.inputs), res.additional_secret_outputs) == [], f"{rule.name} on {res.name}"
    assert violations_of_stack([as_policy_resource(r) for r in p.resources]) == []


# -------------------------------------------------------------------------------- odd-manager-count


def test_an_init_and_one_manager_join_are_two_managers_and_refused() -> None:
    init = command_resource("init", Step("swarm-init.sh", ("10.0.0.1",)))
    join = command_resource("m2-join", Step("swarm-join.sh", ("manager", "10.0.0.1", "10.0.0.2")))
    (message,) = violations_of_stack([init, join])
    assert "2 managers" in message and "Raft quorum needs an odd number" in message and "init, m2-join" in message


def test_workers_do_not_count_and_three_managers_pass() -> None:
    init = command_resource("init", Step("swarm-init.sh", ("10.0.0.1",)))
    managers = [command_resource(f"m{i}-join", Step("swarm-join.sh", ("manager", "10.0.0.1", f"10.0.0.{i}"))) for i in (2, 3)]
    workers = [command_resource(f"w{i}-join", Step("swarm-join.sh", ("worker", "10.0.0.1", f"10.0.0.2{i}"))) for i in (1, 2, 3)]
    assert violations_of_stack([init, *managers, *workers]) == []
    assert len(violations_of_stack([init, managers[0], *workers])) == 1


def test_manager_joins_run_through_sudo_count_too_and_a_program_that_forms_no_swarm_is_let_be() -> None:
    init = command_resource("init", Step("swarm-init.sh", ("10.0.0.1",), as_root=True))
    join = command_resource("m2-join", Step("swarm-join.sh", ("manager", "10.0.0.1", "10.0.0.2"), as_root=True))
    assert len(violations_of_stack([init, join])) == 1
    assert violations_of_stack([command_resource("other", Step("wait-ready.sh", ("30",)))]) == []


def test_a_command_unknown_at_preview_is_not_counted() -> None:
    unknown = PolicyResource(COMMAND, unknown_checking_proxy({"create": UNKNOWN_STRING_VALUE}), "urn:test::x", "x", options(), None, None, [], {})
    init = command_resource("init", Step("swarm-init.sh", ("10.0.0.1",)))
    assert violations_of_stack([init, unknown]) == []


def test_node_script_reads_the_script_and_its_arguments_only_from_the_programs_form() -> None:
    assert node_script(Step("swarm-join.sh", ("manager", "a", "b")).command()) == ("swarm-join.sh", ["manager", "a", "b"])
    assert node_script("docker swarm init") is None
    assert node_script("bash -c 'unterminated") is None


# -------------------------------------------------------------------------------- traefik-dashboard-authenticated


@pytest.mark.parametrize("arg", ["--api.insecure", "--api.insecure=true", " --api.insecure=True", "--api.insecure=t", "--api.insecure=T", "--API.Insecure=1"])
def test_an_insecure_api_flag_is_refused(arg: str) -> None:
    (message,) = violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(container={"args": ["--providers.swarm=true", arg]}))
    assert "--api.insecure" in message.lower() and "unauthenticated" in message


def test_an_insecure_api_environment_variable_is_refused_and_false_is_allowed() -> None:
    for true in ("true", "T", "t", "1", "TRUE"):
        assert violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(container={"env": {"TRAEFIK_API_INSECURE": true}})), true
    assert violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(container={"env": {"TRAEFIK_API_INSECURE": "f"}})) == []
    assert violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(container={"args": ["--api.insecure=false"]})) == []


def test_a_router_to_the_dashboard_without_an_authentication_middleware_is_refused() -> None:
    bare = labels({"traefik.http.routers.dash.service": "api@internal", "traefik.http.routers.dash.rule": "Host(`t.example`)"})
    (message,) = violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(labels=bare))
    assert "router 'dash' serves api@internal without an authentication middleware" in message
    limited = labels(
        {
            "traefik.http.routers.dash.service": "api@internal",
            "traefik.http.routers.dash.middlewares": "slow",
            "traefik.http.middlewares.slow.ratelimit.average": "10",
        }
    )
    assert violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(labels=limited)), "a rate limit is no authentication"


def test_a_router_to_the_dashboard_behind_basic_auth_passes() -> None:
    guarded = labels(
        {
            "traefik.http.routers.dash.service": "api@internal",
            "traefik.http.routers.dash.middlewares": "gzip, dash-auth",
            "traefik.http.middlewares.dash-auth.basicauth.users": BCRYPT_LINE,
        }
    )
    assert violations_of_resource("traefik-dashboard-authenticated", SERVICE, service(labels=guarded)) == []


# -------------------------------------------------------------------------------- docker-socket-read-only


@pytest.mark.parametrize("source", [SOCKET, "/run/docker.sock", "/var/run", "/run/", "/", "/var", "/var/"])
def test_a_read_write_socket_mount_is_refused(source: str) -> None:
    mounts = [{"type": "bind", "source": source, "target": SOCKET}]
    (message,) = violations_of_resource("docker-socket-read-only", SERVICE, service(container={"mounts": mounts}))
    assert f"{source} is mounted read-write" in message and "read-only" in message


def test_a_read_only_socket_mount_and_other_mounts_pass() -> None:
    mounts = [
        {"type": "bind", "source": SOCKET, "target": SOCKET, "readOnly": True},
        {"type": "bind", "source": "/srv/data", "target": "/data"},
        {"type": "volume", "source": "docker.sock", "target": "/x"},
    ]
    assert violations_of_resource("docker-socket-read-only", SERVICE, service(container={"mounts": mounts})) == []


def test_a_container_with_the_socket_as_a_read_write_volume_is_refused() -> None:
    props = {
        "image": "x",
        "volumes": [{"hostPath": SOCKET, "containerPath": SOCKET}],
        "mounts": [{"type": "bind", "source": "/run/docker.sock", "target": "/s", "readOnly": True}],
    }
    (message,) = violations_of_resource("docker-socket-read-only", "docker:index/container:Container", props)
    assert SOCKET in message


# -------------------------------------------------------------------------------- no-docker-socket-facing-the-internet

READ_ONLY_SOCKET = [{"type": "bind", "source": SOCKET, "target": SOCKET, "readOnly": True}]


@pytest.mark.parametrize(
    ("task", "why"),
    [
        ({"endpointSpec": {"ports": [{"targetPort": 80, "publishedPort": 80}]}}, "it publishes port 80"),
        ({"labels": labels({"traefik.enable": "true"})}, "Traefik routes to it"),
    ],
    ids=["published-port", "traefik-route"],
)
def test_a_service_facing_the_internet_that_mounts_the_socket_even_read_only_is_refused(task: dict[str, Any], why: str) -> None:
    props = {**service(container={"mounts": READ_ONLY_SOCKET}, labels=task.get("labels", [])), **{k: v for k, v in task.items() if k != "labels"}}
    (message,) = violations_of_resource("no-docker-socket-facing-the-internet", SERVICE, props)
    assert why in message and f"{SOCKET} (read-only)" in message and "filtering proxy" in message


def test_the_socket_behind_no_port_and_a_port_without_the_socket_pass() -> None:
    proxy = service(container={"mounts": READ_ONLY_SOCKET})
    front = {**service(labels=labels({"traefik.enable": "true"})), "endpointSpec": {"ports": [{"targetPort": 80, "publishedPort": 80}]}}
    assert violations_of_resource("no-docker-socket-facing-the-internet", SERVICE, proxy) == []
    assert violations_of_resource("no-docker-socket-facing-the-internet", SERVICE, front) == []


def test_a_container_that_publishes_a_port_with_the_socket_as_a_volume_is_refused() -> None:
    props = {"image": "x", "ports": [{"internal": 8080, "external": 5050}], "volumes": [{"hostPath": SOCKET, "containerPath": SOCKET, "readOnly": True}]}
    (message,) = violations_of_resource("no-docker-socket-facing-the-internet", "docker:index/container:Container", props)
    assert "it publishes port 5050" in message


# -------------------------------------------------------------------------------- swarm-secrets-stay-secret


@pytest.mark.parametrize("script", [Step("swarm-tokens.sh"), Step("swarm-rotate-tokens.sh"), Step("swarm-autolock.sh", ("on",))], ids=lambda s: s.script)
def test_a_command_asking_for_tokens_or_the_unlock_key_without_a_secret_stdout_is_refused(script: Step) -> None:
    props, _ = command(script, stdout_secret=False)
    (message,) = violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, [])
    assert "asks Docker for a join token or the unlock key" in message and "stdout is not a secret output" in message


def test_a_secret_stdout_that_is_logged_anyway_is_refused() -> None:
    props, secret = command(Step("swarm-tokens.sh"), logging="stdoutAndStderr")
    (message,) = violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, secret)
    assert "its output is logged (logging 'stdoutAndStderr'" in message
    props.pop("logging")  # the provider's default logs stdout
    assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, secret)


def test_secret_unlogged_token_commands_and_commands_that_ask_for_no_secret_pass() -> None:
    props, secret = command(Step("swarm-tokens.sh"))
    assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, secret) == []
    for step in (Step("swarm-join.sh", ("worker", "a", "b")), Step("swarm-init.sh", ("a",)), Step("wait-ready.sh", ("30",))):
        props, _ = command(step, stdout_secret=False, logging="stdoutAndStderr")
        assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, []) == [], step.script


@pytest.mark.parametrize("create", ["docker swarm init --autolock --advertise-addr 10.0.0.1", "docker swarm update --autolock=true", "docker swarm update --autolock"])
def test_a_swarm_init_or_update_that_turns_autolock_on_prints_the_unlock_key_and_needs_a_secret_stdout(create: str) -> None:
    (message,) = violations_of_resource("swarm-secrets-stay-secret", COMMAND, {"create": create, "logging": "none"}, [])
    assert "unlock key" in message
    assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, {"create": create, "logging": "none"}, ["stdout", "stderr"]) == []
    assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, {"create": "docker swarm update --autolock=false"}, []) == []


def test_a_comment_that_names_join_token_asks_docker_for_nothing() -> None:
    props = {"create": "bash -c '# docker swarm join-token worker prints a token\n  # so does unlock-key\necho hi' x.sh", "logging": "stdoutAndStderr"}
    assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, []) == []
    props["create"] += "\ndocker swarm join-token -q worker"
    assert violations_of_resource("swarm-secrets-stay-secret", COMMAND, props, [])


# -------------------------------------------------------------------------------- restart-policy


def test_a_service_without_a_restart_policy_is_refused() -> None:
    props = service()
    del props["taskSpec"]["restartPolicy"]
    (message,) = violations_of_resource("restart-policy", SERVICE, props)
    assert "no restart policy" in message and "deploy.restart_policy.condition" in message
    props["taskSpec"]["restartPolicy"] = {"delay": "5s"}
    assert violations_of_resource("restart-policy", SERVICE, props), "a policy without a condition says nothing"


def test_a_service_with_a_restart_condition_passes_and_other_resources_are_not_judged() -> None:
    assert violations_of_resource("restart-policy", SERVICE, service(restartPolicy={"condition": "on-failure", "maxAttempts": 5})) == []
    assert violations_of_resource("restart-policy", "docker:index/network:Network", {"name": "n"}) == []
