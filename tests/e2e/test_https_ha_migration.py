"""Issue 18, migration: a stack in today's single-Traefik ACME mode (`traefik.acme.issuer: node`)
moves to `issuer: swarm` without a new order and without a procedure: `up` makes the store on
traefik.acme.node's volume (the old ACME manager's) the swarm secret `traefik-acme-import`, which
the first issuer, on whatever manager, publishes as the first store. To make it the hard case, the
old ACME manager is drained for that `up`: the issuer cannot land next to the old store, and its
own node has none. Then every manager serves the very same certificates. pebble as the CA; 3
managers, 1 worker, on hosts of their own, e.g.:
    HE_PREFIX=ha- HE_SUBNET=10.231.94 HE_HOSTS_DIR=/tmp/ha-hosts python -m pytest -q tests/e2e/test_https_ha_migration.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import say
from tests.e2e.deployment import Deployment
from tests.e2e.pebble import Pebble
from tests.e2e.test_https import outbound_nat
from tests.e2e.test_https_ha import (
    EMAIL,
    ISSUER,
    NAMES,
    acme_image,
    ha_deployment,
    logs,
    managers,
    one_certificate_everywhere,
    orders,
    pebble_for,
    running_on,
    served_certificate,
    served_everywhere,
    serves,
    service_logs,
    store_configs,
)
from tests.e2e.toolchain import Toolchain
from tests.support.cluster import wait_for


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[Deployment]:
    yield from ha_deployment(request, toolchain, "ha-swarm-e2e-acme-migration-")


@pytest.fixture(scope="module")
def pebble(deployment: Deployment, toolchain: Toolchain) -> Iterator[Pebble]:
    yield from pebble_for(deployment, toolchain)


def test_a_single_traefik_acme_stack_moves_to_issuer_swarm_without_a_new_order(
    request: pytest.FixtureRequest, deployment: Deployment, toolchain: Toolchain, pebble: Pebble
) -> None:
    roots = deployment.run_dir / "pebble-roots.pem"
    roots.write_text(pebble.issuing_roots_pem())
    first = deployment.first
    # Today's mode: one Traefik, on the first manager, next to its store.
    deployment.traefik_extra = {"acme": {"email": EMAIL, "caServer": pebble.directory_url, "caBundle": pebble.ca_bundle_pem}}
    deployment.configure()
    assert deployment.up("up with traefik.acme (issuer: node, pebble)").summary.result == "succeeded"
    outbound_nat(first)
    for name in NAMES:
        wait_for(lambda n=name: serves(deployment, first.address, roots, n), 240, f"https://{name}/ through the single Traefik")
    time.sleep(10)
    assert orders(pebble) == len(NAMES), pebble.log_tails()
    before = {name: served_certificate(deployment, first.address, name) for name in NAMES}
    # The hard case: the issuer cannot run on the old ACME manager, and no other manager has a store.
    others = [h for h in managers(deployment) if h is not first]
    for host in others:
        volume = host.exec(["docker", "volume", "inspect", "traefik-acme"], check=False)
        assert volume.returncode != 0, f"{host.hostname} has a traefik-acme volume before the switch"
    first.docker("node", "update", "--availability", "drain", first.hostname)
    image, _ = acme_image(toolchain)
    deployment.traefik_extra = {"acme": {**deployment.traefik_extra["acme"], "issuer": "swarm", "image": image}}
    deployment.configure()
    switched = time.monotonic()
    assert deployment.up("up switched to issuer: swarm (the old ACME manager drained)").summary.result == "succeeded"
    for host in others:
        outbound_nat(host)
    wait_for(lambda: len(running_on(first, ISSUER)) == 1, 120, "one issuer")
    (issuer_node,) = running_on(first, ISSUER)
    assert issuer_node != first.hostname
    try:
        wait_for(lambda: store_configs(first), 120, "the old store published")
    except AssertionError as err:
        raise AssertionError(f"{err}\n{logs(deployment, first, pebble)}") from None
    assert "started from /run/secrets/traefik-acme-import (2 certificates)" in service_logs(first, ISSUER)
    first.docker("node", "update", "--availability", "active", first.hostname)
    wait_for(lambda: len(running_on(first, "traefik")) == 3, 180, "a Traefik on every manager")
    outbound_nat(first)
    served_everywhere(deployment, pebble, roots, NAMES, timeout=180)
    say(request.config, f"[e2e-acme] migration (up switched -> both names on every manager): {time.monotonic() - switched:.1f} s; first issuer on {issuer_node}")
    # The very certificates of the single Traefik, on every manager; nothing ordered again.
    for name in NAMES:
        after = one_certificate_everywhere(deployment, name)
        assert after == before[name], f"{name}: {after} after the migration, {before[name]} before"
    time.sleep(30)
    assert orders(pebble) == len(NAMES), f"{orders(pebble) - len(NAMES)} new orders after the migration\n{pebble.log_tails()}"
    store = json.loads(first.exec(["sh", "-c", "cat \"$(docker volume inspect traefik-acme --format '{{.Mountpoint}}')/acme.json\""], check=True).stdout)
    assert len(store["le"]["Certificates"]) == len(NAMES)
    deployment.destroy("destroy")
    for host in deployment.harness:
        assert host.docker("ps", "-q") == "", f"{host.hostname} still runs containers"
