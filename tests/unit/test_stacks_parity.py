"""Stack files as users bring them, deployed under mocks as `docker stack deploy` deploys them: external
networks of any name, configs and secrets, and every file of the corpus of real stack files."""

from __future__ import annotations

from pathlib import Path

from tests.support.mocks import Program, base_config, run_program

NETWORK = "docker:index/network:Network"
SERVICE = "docker:index/service:Service"


def network_ids(p: Program, service: str) -> list[str]:
    return [n["id"] for n in p.named(service).inputs["taskSpec"]["networksAdvanceds"]]


def test_an_external_network_of_any_name_is_created_once_as_a_swarm_overlay_for_all_stacks(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.yml").write_text(
            "services:\n  web:\n    image: nginx\n    networks: [public, traefik-net]\nnetworks:\n  public:\n    external: true\n    name: traefik-public\n"
            "  traefik-net:\n    external: true\n"
        )
    p = run_program(base_config(stacks=[str(tmp_path / "one.yml"), str(tmp_path / "two.yml")]))
    shared = [r for r in p.of_type(NETWORK) if r.inputs["name"] == "traefik-public"]
    assert len(shared) == 1, "one network for every stack that names it"
    assert shared[0].inputs["driver"] == "overlay"
    assert network_ids(p, "one_web") == network_ids(p, "two_web") == ["traefik-public-id", "traefik-net-id"]
