"""The shared corpus of real stack files (other people's files for `docker stack deploy`), read where
it is and never copied into the repository: each file, the stack name and services it makes, the
stand-ins of the files it names, and the settings ha-swarm needs beside it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# The shared corpus beside the project (../shared/compose-corpus), or HA_SWARM_COMPOSE_CORPUS: other
# people's files, read where they are and never copied into the repository.
CORPUS = Path(os.environ.get("HA_SWARM_COMPOSE_CORPUS") or Path(__file__).resolve().parents[3] / "shared" / "compose-corpus")
NO_CORPUS = f"the shared compose corpus is not here ({CORPUS}; HA_SWARM_COMPOSE_CORPUS names another place)"
STAND_INS = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "corpus"
# What the files read from the shell (${EMAIL}, ...) and HOME (for ~), given as settings.
CORPUS_VARIABLES = {"EMAIL": "ops@example.test", "USERNAME": "admin", "HASHED_PASSWORD": "$apr1$x$y", "ADMIN_USER": "admin", "HOME": "/home/swarm"}
ATSEA_SECRETS = {name: str(STAND_INS / "atsea" / name) for name in ("postgres_password", "staging_token", "revprox_key", "revprox_cert")}
# file -> (stack name, services, stand-ins folder, settings of the entry)
CORPUS_FILES = {
    "docker__awesome-compose__minecraft__compose.yaml": ("minecraft", 1, None, {}),
    "docker__cli__e2e__stack__testdata__full-stack.yml": ("full", 2, None, {}),
    "dockersamples__atsea-sample-shop-app__docker-stack.yml": ("atsea", 5, None, {"secrets": ATSEA_SECRETS}),
    "dockersamples__example-voting-app__docker-stack.yml": ("vote", 5, None, {}),
    "swarmpit__swarmpit__docker-compose.yml": ("swarmpit", 4, None, {}),
    "tiangolo__dockerswarm.rocks__docs__portainer.yml": ("portainer", 2, None, {}),
    "tiangolo__dockerswarm.rocks__docs__swarmpit.yml": ("swarmpit2", 4, None, {}),
    "tiangolo__dockerswarm.rocks__docs__swarmprom.yml": ("swarmprom", 7, "swarmprom", {}),
    "tiangolo__dockerswarm.rocks__docs__thelounge.yml": ("thelounge", 1, None, {}),
    "tiangolo__dockerswarm.rocks__docs__traefik-host-v1.yml": ("traefik-host-v1", 3, None, {}),
    "tiangolo__dockerswarm.rocks__docs__traefik-host.yml": ("traefik-host", 1, None, {}),
    "tiangolo__dockerswarm.rocks__docs__traefik-v1.yml": ("traefik-v1", 3, None, {}),
    "tiangolo__dockerswarm.rocks__docs__traefik-v3.yml": ("traefik-v3", 1, None, {}),
    "tiangolo__dockerswarm.rocks__docs__traefik.yml": ("traefik", 1, None, {}),
}


def corpus_entry(tmp_path: Path, file: str) -> dict[str, object]:
    """The corpus file, byte for byte, in a folder with the stand-ins of the files it names."""
    name, _, stand_ins, settings = CORPUS_FILES[file]
    folder = tmp_path / name
    if stand_ins:
        shutil.copytree(STAND_INS / stand_ins, folder)
    folder.mkdir(exist_ok=True)
    copy = folder / file
    copy.write_bytes((CORPUS / file).read_bytes())
    return {"file": str(copy), "name": name, **settings}
