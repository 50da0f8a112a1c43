"""Day two under mocks: `swarm.rotateTokens` (join-token rotation) and `swarm.autolock`, from the
settings to the remote commands, their order, their triggers and their secrets."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.model import SwarmSettings
from tests.support.mocks import MANAGER_TOKEN, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, UNLOCK_KEY, WORKER_TOKEN, Program, Registered, base_config, run_program

IMAGE_URL = "https://example.test/debian-12-genericcloud-amd64.qcow2"


def raw(swarm: Any) -> dict[str, Any]:
    return {"target": "lab", "lab": {"image": IMAGE_URL, "domainType": "kvm"}, "sshPublicKey": TEST_PUBLIC_KEY, "sshPrivateKey": TEST_PRIVATE_KEY, "swarm": swarm}


def refused(swarm: Any) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw(swarm))
    message = str(info.value)
    assert "\n" not in message, "a refusal is one line"
    return message


def program(swarm: dict[str, Any] | None = None, managers: int = 3, workers: int = 2) -> Program:
    config = base_config()
    config["lab"] = {**config["lab"], "managers": managers, "workers": workers}
    if swarm is not None:
        config["swarm"] = swarm
    return run_program(config)


def script_of(res: Registered, key: str = "create") -> str:
    command = res.inputs.get(key) or ""
    return shlex.split(command)[3] if command else ""


def args_of(res: Registered, key: str = "create") -> list[str]:
    return shlex.split(res.inputs[key])[4:]


def names(p: Program) -> set[str]:
    return {r.name for r in p.resources}


# -------------------------------------------------------------------------------- settings


def test_swarm_defaults_never_rotate_and_leave_autolock_off() -> None:
    assert parse_settings(raw(None)).swarm == SwarmSettings(rotate_tokens=None, autolock=False)


@pytest.mark.parametrize(("given", "kept"), [(1, "1"), ("2", "2"), ("2026-03", "2026-03"), (" v2 ", "v2"), (0, "0")])
def test_rotation_generation_is_a_number_or_a_short_word_kept_as_text(given: Any, kept: str) -> None:
    assert parse_settings(raw({"rotateTokens": given})).swarm.rotate_tokens == kept


def test_autolock_is_read_as_a_boolean_also_from_text() -> None:
    assert parse_settings(raw({"autolock": True})).swarm.autolock is True
    assert parse_settings(raw({"autolock": "true"})).swarm.autolock is True
    assert parse_settings(raw({"autolock": "false"})).swarm.autolock is False


@pytest.mark.parametrize("bad", [True, 1.5, "", "two words", "-1", "x" * 65, ["1"], {"g": 1}])
def test_a_bad_rotation_generation_is_refused_naming_the_key_and_what_is_allowed(bad: Any) -> None:
    message = refused({"rotateTokens": bad})
    assert message.startswith("config ha-swarm:swarm.rotateTokens = ")
    assert "a generation: a whole number or a short word" in message
    assert "rotates the join tokens on the next up" in message


def test_a_non_boolean_autolock_is_refused() -> None:
    message = refused({"autolock": "yes"})
    assert message == "config ha-swarm:swarm.autolock = 'yes' is refused: true or false"


def test_an_unknown_swarm_key_and_a_swarm_that_is_no_object_are_refused() -> None:
    assert "config ha-swarm:swarm.rotate = 1 is refused: unknown key; allowed keys: rotateTokens, autolock, restored, restoredOn" == refused({"rotate": 1})
    assert "is refused: an object" in refused("on")


# -------------------------------------------------------------------------------- rotation


def test_without_a_generation_nothing_rotates_and_the_tokens_trigger_only_on_a_new_swarm() -> None:
    p = program()
    assert "rotate-tokens" not in names(p)
    assert p.named("tokens").inputs["triggers"] == ["nodeid-init"]  # the swarm's ID, from init's stdout


def test_a_generation_rotates_on_the_first_manager_after_init_and_before_the_tokens_are_read() -> None:
    p = program({"rotateTokens": 2})
    rotate, tokens, init = p.named("rotate-tokens"), p.named("tokens"), p.named("init")
    assert script_of(rotate) == "swarm-rotate-tokens.sh" and args_of(rotate) == []
    assert rotate.inputs["connection"]["host"] == "10.17.3.11"
    assert p.depends_on(rotate, init)
    assert p.depends_on(tokens, rotate), "the tokens must be read after the rotation"
    assert rotate.inputs.get("delete") is None, "a rotation is not undone"
    # The generation is a trigger of both: a new value runs the rotation again and reads the new tokens.
    assert rotate.inputs["triggers"] == ["rotation:2"]
    assert "rotation:2" in tokens.inputs["triggers"]
    # It prints nothing, but it asks Docker for tokens: its output is secret and never logged.
    assert {"stdout", "stderr"} <= set(rotate.additional_secret_outputs)
    assert rotate.inputs["logging"] == "none"


def test_a_new_generation_changes_only_the_rotation_and_the_tokens_not_how_nodes_join() -> None:
    before, after = program({"rotateTokens": 1}), program({"rotateTokens": 2})
    assert before.named("rotate-tokens").inputs["triggers"] != after.named("rotate-tokens").inputs["triggers"]
    assert before.named("tokens").inputs["triggers"] != after.named("tokens").inputs["triggers"]
    for node in ("manager-2", "manager-3", "worker-1", "worker-2"):
        for step in ("register", "join", "settle"):
            b, a = before.named(f"{node}-{step}"), after.named(f"{node}-{step}")
            # Nothing that replaces a command (its triggers) or reruns it (its scripts) depends on the generation.
            assert b.inputs.get("triggers") == a.inputs.get("triggers"), f"{node}-{step}"
            assert b.inputs.get("create") == a.inputs.get("create") and b.inputs.get("delete") == a.inputs.get("delete"), f"{node}-{step}"


def test_joins_take_the_token_on_secret_stdin_only_so_a_rotated_token_never_replaces_a_joined_node() -> None:
    p = program({"rotateTokens": "7"})
    for node, token in (("manager-2", MANAGER_TOKEN), ("worker-1", WORKER_TOKEN)):
        join = p.named(f"{node}-join")
        assert join.inputs["stdin"] == token and "stdin" in join.secret_inputs
        assert p.depends_on(join, p.named("rotate-tokens")), "a node that joins in the same up gets the new token"
        assert not any(token in str(t) for t in join.inputs.get("triggers") or [])
        assert not any(k.startswith("stdin") for k in join.replace_on_changes), "a new token must not replace (leave and rejoin) a node"
        assert script_of(join) == "swarm-join.sh"


def test_adding_a_generation_to_an_existing_stack_leaves_the_joins_untouched() -> None:
    plain, rotated = program(), program({"rotateTokens": 1})
    assert {r.name for r in rotated.resources} - {r.name for r in plain.resources} == {"rotate-tokens"}
    for node in ("manager-2", "worker-1"):
        assert plain.named(f"{node}-join").inputs["triggers"] == rotated.named(f"{node}-join").inputs["triggers"]


# -------------------------------------------------------------------------------- autolock


def test_without_autolock_there_is_no_autolock_command_and_no_unlock_key_output() -> None:
    p = program({"autolock": False})
    assert "autolock" not in names(p)
    assert "unlockKey" not in p.outputs


def test_autolock_runs_on_the_first_manager_after_init_and_turns_off_when_removed() -> None:
    p = program({"autolock": True})
    lock = p.named("autolock")
    assert script_of(lock) == "swarm-autolock.sh" and args_of(lock) == ["on"]
    assert script_of(lock, "delete") == "swarm-autolock.sh" and args_of(lock, "delete") == ["off"]
    assert lock.inputs["connection"]["host"] == "10.17.3.11"
    assert p.depends_on(lock, p.named("init"))
    assert lock.delete_before_replace


def test_autolock_turns_on_once_every_manager_has_joined_and_settled() -> None:
    # A swarm update proposed while Raft adds a member can be dropped; workers do not matter.
    p = program({"autolock": True}, managers=3, workers=1)
    lock = p.named("autolock")
    for manager in ("manager-2", "manager-3"):
        assert p.depends_on(lock, p.named(f"{manager}-join")), manager
    assert not p.depends_on(lock, p.named("worker-1-join"))


def test_the_unlock_key_is_a_secret_stack_output_never_logged() -> None:
    p = program({"autolock": True})
    lock = p.named("autolock")
    assert {"stdout", "stderr"} <= set(lock.additional_secret_outputs)
    assert lock.inputs["logging"] == "none"
    assert p.outputs["unlockKey"] == UNLOCK_KEY
    assert "unlockKey" in p.secret_outputs
    for res in p.resources:
        assert UNLOCK_KEY not in str(res.inputs), f"the unlock key in the inputs of {res.name}"


def test_autolock_and_rotation_together_change_the_cluster_one_after_the_other() -> None:
    # Both update the swarm's cluster object: at the same time, one fails with "update out of sequence".
    p = program({"autolock": "true", "rotateTokens": 1}, managers=1, workers=1)
    assert {"autolock", "rotate-tokens", "tokens", "worker-1-join"} <= names(p)
    assert p.depends_on(p.named("autolock"), p.named("rotate-tokens"))
    assert p.depends_on(p.named("worker-1-join"), p.named("rotate-tokens"))
