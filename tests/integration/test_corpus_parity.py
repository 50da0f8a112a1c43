"""Issue 16: each file of the shared corpus of real stack files (other people's files, deployed
unchanged), deployed by `docker stack deploy` on the test hosts, carries field by field what
ha-swarm's translation makes of the same file with the same variables: every service's deploy
section, ports, mounts, networks and aliases, command, entrypoint, environment, healthcheck, the
container's scalars, the configs and secrets it mounts; and the stack's own networks.

The corpus's images are not on the test hosts (no registry here): docker creates the services all
the same (`--resolve-image never`), and the comparison is of the specs, not of running tasks. What
the file takes from outside is made first, as a user of docker makes it: its external networks
(overlays) and the external secrets that ha-swarm creates from the settings.  The corpus lives
outside the repository (tests/support/corpus.py): without it these tests skip, and say so."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ha_swarm.apps.compose.load import load_stack
from ha_swarm.apps.compose.model import StackSpec
from tests.support.cluster import Swarm, wait_for_quietly
from tests.support.corpus import CORPUS, CORPUS_FILES, CORPUS_VARIABLES, NO_CORPUS, corpus_entry
from tests.support.parity import compare_specs, remove

# What ha-swarm gives every stack besides the settings' variables: DOMAIN, the stack's domain.
VARIABLES = {**CORPUS_VARIABLES, "DOMAIN": "corpus.example"}
# A stack's removal ends when its tasks have stopped on every host (a global service: all five).
REMOVAL = 180


def external_secrets(entry: dict[str, object]) -> dict[str, Path]:
    """The external secrets the entry's settings give a file for (`stacks[].secrets`)."""
    secrets = entry.get("secrets") or {}
    assert isinstance(secrets, dict)
    return {str(name): Path(str(path)) for name, path in secrets.items()}


@contextlib.contextmanager
def made_outside(swarm: Swarm, spec: StackSpec, secrets: dict[str, Path]) -> Iterator[None]:
    """The external networks and secrets, made as a docker user makes them; removed afterwards."""
    first = swarm.first
    networks = [n.name for n in spec.networks if n.external]
    for name in networks:
        # Made anew for each file (the previous file's may linger on the node for a moment after its
        # removal from the swarm, listed but unusable).
        made = wait_for_quietly(lambda n=name: first.exec(["docker", "network", "create", "--driver", "overlay", "--attachable", n]).returncode == 0, 60)
        assert made, f"the external network {name} could not be created"
    for name, path in secrets.items():
        first.docker("secret", "create", name, str(path))
    try:
        yield
    finally:
        for name in secrets:
            first.docker("secret", "rm", name, check=False)
        gone = [wait_for_quietly(lambda n=name: first.exec(["docker", "network", "rm", n]).returncode == 0, REMOVAL) for name in networks]
        assert all(gone), f"the external networks {networks} could not be removed within {REMOVAL}s"


@pytest.mark.parametrize("file", sorted(CORPUS_FILES))
def test_docker_stack_deploy_of_a_corpus_file_carries_the_translations_fields(swarm: Swarm, tmp_path: Path, file: str) -> None:
    if not (CORPUS / file).is_file():
        pytest.skip(NO_CORPUS)
    entry = corpus_entry(tmp_path, file)
    name, path, secrets = str(entry["name"]), Path(str(entry["file"])), external_secrets(entry)
    external = {"configs": {}, "secrets": {k: p.read_bytes() for k, p in secrets.items()}}
    spec = load_stack(path, VARIABLES, stack_name=name, external=external)
    assert len(spec.services) == CORPUS_FILES[file][1]
    first = swarm.first
    with made_outside(swarm, spec, secrets):
        variables = [f"{k}={v}" for k, v in VARIABLES.items()]
        res = first.exec(["env", *variables, "docker", "stack", "deploy", "--resolve-image", "never", "-c", str(path), name], timeout=180)
        try:
            assert res.returncode == 0, f"docker stack deploy {file}: {res.stderr.strip()}"
            compare_specs(swarm, spec)
        finally:
            remove(swarm, name, REMOVAL)
    assert path.read_bytes() == (CORPUS / file).read_bytes(), "the file is not edited"
