"""Issue 17, item 7, for real: Traefik holds no Docker socket and reads the swarm through
docker-api-proxy, which refuses every write. One stack on the test hosts, in file order.

1. `up` (with `verify: true`): the proxy runs on every manager, on the internal overlay `docker-api`,
   and Traefik, without any socket mount, routes whoami0 on every manager (its swarm provider found
   the services through the proxy, by the proxy's name).
2. From Traefik's own network namespace (the network access Traefik has), the proxy answers the
   reads Traefik makes and refuses `POST /containers/create` (and a service update, and reads of
   secrets) with 403; nothing was created. From outside the swarm nobody reaches it.
3. `destroy` takes the proxy and its network down with the rest.

The images: the toolchain's Traefik, whoami and socket proxy stand-in (toolchain/socket-proxy; the
default image, tecnativa/docker-socket-proxy, cannot be pulled here), loaded on every host.
"""

from __future__ import annotations

import json
import subprocess

from tests.e2e.deployment import DOMAIN, PREFIX, Deployment, routed
from tests.support.cluster import wait_for
from tests.support.hosts import Host

PROXY = "docker-api-proxy"
PORT = 2375


def managers(dep: Deployment) -> list[Host]:
    return [h for h in dep.harness if h.hostname in {f"{PREFIX}m1", f"{PREFIX}m2", f"{PREFIX}m3"}]


def task_container(host: Host, service: str) -> str:
    """The id of SERVICE's running container on HOST."""
    ids = host.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").split()
    assert len(ids) == 1, f"{service} on {host.hostname}: {ids}"
    return ids[0]


def from_traefik(host: Host, *curl: str) -> subprocess.CompletedProcess:
    """curl run in the network namespace of the Traefik task on HOST: what Traefik itself can reach."""
    pid = host.docker("inspect", "--format", "{{.State.Pid}}", task_container(host, "traefik"))
    return host.exec(["nsenter", f"--target={pid}", "--net", "curl", "--noproxy", "*", "-sS", "--max-time", "10", *curl], timeout=30)


def status(host: Host, method: str, url: str, *extra: str) -> int:
    res = from_traefik(host, "-o", "/dev/null", "-w", "%{http_code}", "-X", method, *extra, url)
    assert res.returncode == 0, f"{method} {url} from Traefik's namespace on {host.hostname}: curl exited {res.returncode}: {res.stderr.strip()}"
    return int(res.stdout)


def proxy_address(host: Host) -> str:
    """The address of HOST's proxy task on docker-api."""
    fmt = '{{(index .NetworkSettings.Networks "docker-api").IPAddress}}'
    return host.docker("inspect", "--format", fmt, task_container(host, PROXY))


def test_traefik_without_the_socket_routes_whoami_through_the_proxy_on_every_manager(deployment: Deployment) -> None:
    deployment.verify_on_up = True
    deployment.configure()
    result = deployment.up("up with the Docker API proxy")
    assert result.summary.result == "succeeded"
    assert "docker-api-proxy" in result.stdout and "verify: all" in result.stdout, result.stdout[-3000:]
    wait_for(lambda: len(deployment.running(PROXY)) == 3, 120, "a proxy task on every manager")
    assert sorted(t["Node"] for t in deployment.running(PROXY)) == sorted(h.hostname for h in managers(deployment))
    network = json.loads(deployment.first.docker("network", "inspect", "docker-api"))[0]
    assert (network["Driver"], network["Internal"], network["Attachable"]) == ("overlay", True, False)
    spec = json.loads(deployment.first.docker("service", "inspect", "traefik"))[0]["Spec"]
    assert not spec["TaskTemplate"]["ContainerSpec"].get("Mounts"), "Traefik mounts nothing"
    assert f"--providers.swarm.endpoint=tcp://{PROXY}:{PORT}" in spec["TaskTemplate"]["ContainerSpec"]["Args"]
    for host in managers(deployment):
        mounts = json.loads(host.docker("inspect", "--format", "{{json .Mounts}}", task_container(host, "traefik")))
        assert not [m for m in mounts if "docker.sock" in m.get("Source", "")], f"Traefik on {host.hostname} holds the socket: {mounts}"
        wait_for(lambda a=host.address: routed(deployment.curl, a, "whoami0", 2), 90, f"Traefik on {host.address} to route whoami0.{DOMAIN}")


def test_the_proxy_refuses_a_write_from_where_traefik_stands(deployment: Deployment) -> None:
    for host in managers(deployment):
        base = f"http://{proxy_address(host)}:{PORT}"
        # What Traefik reads passes...
        assert status(host, "HEAD", f"{base}/_ping") == 200
        assert status(host, "GET", f"{base}/v1.41/services") == 200
        # ...a write does not, nor a read of what Traefik has no use for.
        create = ["-H", "Content-Type: application/json", "--data", json.dumps({"Image": deployment.toolchain.whoami[0], "Cmd": ["/whoami"]})]
        assert status(host, "POST", f"{base}/v1.41/containers/create?name=intruder", *create) == 403
        assert status(host, "POST", f"{base}/containers/create", *create) == 403
        assert status(host, "POST", f"{base}/v1.41/services/traefik/update?version=1", *create) == 403
        assert status(host, "DELETE", f"{base}/v1.41/services/demo_whoami0") == 403
        assert status(host, "GET", f"{base}/v1.41/secrets") == 403
        assert status(host, "GET", f"{base}/v1.41/containers/json") == 403
        assert host.docker("ps", "-a", "-q", "--filter", "name=intruder") == "", "a container was created"
    assert len(deployment.running("demo_whoami0")) == 2
    # Nobody outside the swarm reaches the proxy: it publishes no port.
    outside = deployment.harness.in_ctl(["curl", "--noproxy", "*", "-sS", "--max-time", "5", f"http://{deployment.first.address}:{PORT}/_ping"], timeout=30)
    assert outside.returncode != 0, outside.stdout


def test_destroy_takes_the_proxy_and_its_network_down(deployment: Deployment) -> None:
    deployment.destroy("destroy")
    for host in deployment.harness:
        assert host.info("{{.Swarm.LocalNodeState}}") == "inactive", host.hostname
        assert host.docker("ps", "-q") == "", f"{host.hostname} still runs containers"
