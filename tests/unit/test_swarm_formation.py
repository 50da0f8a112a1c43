"""Swarm formation under mocks: the commands, their order, their secrets, their undo."""

from __future__ import annotations

import shlex

import pytest

from ha_swarm.config import SettingsError
from tests.support.mocks import MANAGER_TOKEN, WORKER_TOKEN, Program, Registered, base_config, run_program


def lab(managers: int, workers: int) -> Program:
    config = base_config()
    config["lab"] = {**config["lab"], "managers": managers, "workers": workers}
    return run_program(config)


def script_of(res: Registered, key: str = "create") -> str:
    """The node script a command runs: its $0 in `bash -c PROGRAM NAME ARG...`."""
    command = res.inputs.get(key) or ""
    return shlex.split(command)[3] if command else ""


def args_of(res: Registered, key: str = "create") -> list[str]:
    words = shlex.split(res.inputs[key])
    return words[4:]  # bash -c PROGRAM NAME ARG...


def test_init_runs_on_the_first_manager_advertising_its_swarm_address() -> None:
    p = lab(3, 2)
    init = p.named("init")
    assert script_of(init) == "swarm-init.sh"
    assert args_of(init) == ["10.17.3.11"]
    assert init.inputs["connection"]["host"] == "10.17.3.11"
    assert p.depends_on(init, p.named("manager-1-ready"))
    assert script_of(init, "delete") == "swarm-leave.sh" and args_of(init, "delete") == ["--force"]


def test_tokens_are_read_after_init_with_secret_unlogged_output() -> None:
    p = lab(1, 2)
    tokens = p.named("tokens")
    assert script_of(tokens) == "swarm-tokens.sh"
    assert p.depends_on(tokens, p.named("init"))
    assert {"stdout", "stderr"} <= set(tokens.additional_secret_outputs)
    assert tokens.inputs["logging"] == "none"


def test_joins_get_their_token_on_secret_stdin_never_in_the_command() -> None:
    p = lab(3, 2)
    for name, token in (("manager-2", MANAGER_TOKEN), ("manager-3", MANAGER_TOKEN), ("worker-1", WORKER_TOKEN)):
        join = p.named(f"{name}-join")
        assert join.inputs["stdin"] == token
        assert "stdin" in join.secret_inputs
        for key in ("create", "delete"):
            assert WORKER_TOKEN not in join.inputs[key] and MANAGER_TOKEN not in join.inputs[key]
        assert p.depends_on(join, p.named("tokens"))
    for res in p.resources:
        for key, value in res.inputs.items():
            if WORKER_TOKEN in str(value) or MANAGER_TOKEN in str(value):
                assert key in res.secret_inputs, f"{res.name}.{key} holds a token in plain text"


def test_join_arguments_name_role_first_manager_and_own_address() -> None:
    p = lab(3, 2)
    assert args_of(p.named("manager-2-join")) == ["manager", "10.17.3.11", "10.17.3.12"]
    assert args_of(p.named("worker-2-join")) == ["worker", "10.17.3.11", "10.17.3.22"]
    assert p.named("worker-2-join").inputs["connection"]["host"] == "10.17.3.22"


def test_managers_join_one_after_another() -> None:
    p = lab(5, 1)
    for k in range(3, 6):
        join = p.named(f"manager-{k}-join")
        assert p.depends_on(join, p.named(f"manager-{k - 1}-settle")), f"manager-{k} must wait for manager-{k - 1}"
    assert not p.depends_on(p.named("manager-2-join"), p.named("manager-3-join"))


def test_managers_leave_one_at_a_time_each_removed_before_the_previous_is_drained() -> None:
    # Destroy deletes in reverse dependency order: manager-3's node rm (its register) must come
    # before manager-2's drain (its settle), so the register depends on the previous settle.
    p = lab(3, 2)
    for k in (2, 3):
        assert p.depends_on(p.named(f"manager-{k}-register"), p.named(f"manager-{k - 1}-settle"))
    for w in (1, 2):
        assert not p.depends_on(p.named(f"worker-{w}-register"), p.named("manager-1-settle"))


def test_workers_join_in_parallel_at_a_depth_independent_of_their_number() -> None:
    small, large = lab(3, 2), lab(3, 10)
    for p in (small, large):
        joins = [p.named(f"worker-{j}-join") for j in range(1, 3)]
        for a in joins:
            for b in joins:
                assert a is b or not p.depends_on(a, b)
        last = p.named(f"worker-{len([r for r in p.resources if r.name.startswith('worker-') and r.name.endswith('-join')])}-join")
        assert not any(x.name.startswith("worker-") and x.name.endswith("-join") for x in p.ancestors(last))
    assert small.depth(small.named("worker-2-join")) == large.depth(large.named("worker-10-join"))
    assert large.depth(large.named("worker-1-join")) == large.depth(large.named("worker-10-join"))


def test_workers_join_once_every_manager_settled_but_register_without_waiting() -> None:
    # Issue 20 (docs/scale.md): the engine runs the steps of twenty workers' joins and settles ahead of
    # the managers' chain that everything else waits for; a worker's join waits for the last manager's
    # settle, so the managers form first (and on destroy they are drained once the workers left).
    for p in (lab(3, 2), lab(5, 10)):
        managers = sorted(r.name for r in p.resources if r.name.startswith("manager-") and r.name.endswith("-settle"))
        for join in (r for r in p.resources if r.name.startswith("worker-") and r.name.endswith("-join")):
            for settle in managers:
                assert p.depends_on(join, p.named(settle)), f"{join.name} does not wait for {settle}"
        assert not p.depends_on(p.named("worker-1-register"), p.named("manager-2-join"))


def test_each_node_is_registered_joined_and_settled_with_graceful_undo() -> None:
    p = lab(3, 1)
    for name in ("manager-2", "worker-1"):
        register, join, settle = (p.named(f"{name}-{step}") for step in ("register", "join", "settle"))
        assert p.depends_on(join, register) and p.depends_on(settle, join)
        # Pulumi deletes in reverse: settle (drain, demote), join (leave on the node), register (rm on a manager).
        assert script_of(settle, "delete") == "node-drain.sh"
        assert args_of(settle, "delete") == [f"nodeid-{name}"]
        assert script_of(join, "delete") == "swarm-leave.sh"
        assert script_of(register, "delete") == "node-remove.sh"
        assert args_of(register, "delete") == [name, {"manager-2": "10.17.3.12", "worker-1": "10.17.3.21"}[name]]
        for res in (register, settle):
            assert res.inputs["connection"]["host"] == "10.17.3.11", "removal steps run on the first manager"
        for res in (register, join, settle):
            assert res.delete_before_replace


def test_first_manager_settles_without_any_undo() -> None:
    p = lab(1, 2)
    settle = p.named("manager-1-settle")
    assert script_of(settle) == "node-settle.sh"
    assert args_of(settle) == ["nodeid-init", "manager-1", "manager"]
    assert "delete" not in settle.inputs or not settle.inputs["delete"]


def test_node_labels_are_applied_from_a_manager_with_the_node_name() -> None:
    config = base_config(nodeLabels={"worker-1": {"zone": "a", "disk": "ssd"}})
    p = run_program(config)
    settle = p.named("worker-1-settle")
    assert args_of(settle) == ["nodeid-worker-1", "worker-1", "worker", "disk=ssd", "zone=a"]
    assert args_of(p.named("worker-2-settle")) == ["nodeid-worker-2", "worker-2", "worker"]


def test_swarm_steps_rerun_when_a_lab_vm_is_replaced() -> None:
    p = lab(1, 1)
    domain_id = p.named("worker-1").id
    for step in ("ready", "register", "join", "settle"):
        assert domain_id in p.named(f"worker-1-{step}").inputs["triggers"]


def test_every_swarm_command_is_a_child_of_the_swarm_component() -> None:
    p = lab(3, 2)
    (component,) = p.of_type("ha-swarm:swarm:Swarm")
    for res in p.of_type("command:remote:Command"):
        if not res.name.endswith("-ready"):
            assert res.parent == component.urn


def test_a_bad_setting_stops_the_program_before_any_resource_is_declared() -> None:
    config = base_config()
    config["lab"] = {**config["lab"], "managers": 2}
    with pytest.raises(SettingsError, match="Raft quorum"):
        run_program(config)


def test_program_exports_the_nodes_without_secrets() -> None:
    p = run_program(base_config())
    assert p.outputs["nodes"] == [
        {"name": "manager-1", "role": "manager", "address": "10.17.3.11"},
        {"name": "worker-1", "role": "worker", "address": "10.17.3.21"},
        {"name": "worker-2", "role": "worker", "address": "10.17.3.22"},
    ]
    assert "PRIVATE KEY" not in str(p.outputs)
    assert WORKER_TOKEN not in str(p.outputs) and MANAGER_TOKEN not in str(p.outputs)


def test_no_command_asks_for_its_previous_output_in_the_environment() -> None:
    # The provider passes PULUMI_COMMAND_STDOUT/STDERR to update and delete only when asked; sshd
    # refuses them by default, with a warning each time. No node script reads them.
    config = base_config()
    config["lab"] = {**config["lab"], "managers": 3}
    commands = run_program(config).of_type("command:remote:Command")
    assert len(commands) > 10
    assert all(c.inputs.get("addPreviousOutputInEnv") is False for c in commands)
    assert not [c.name for c in commands if "PULUMI_COMMAND_" in str(c.inputs.get("delete", ""))]
