"""Issue 4, test 6: a task on one host reaches a task on another host over traefik-net by service
name (VXLAN between the hosts' network namespaces; dnsrr, as this kernel has no IPVS)."""

from __future__ import annotations

import json

from tests.support.cluster import Swarm, succeeds, wait_for
from tests.support.hosts import Harness, Host


def task_container(swarm: Swarm, host: Host, service: str) -> dict:
    cid = wait_for(lambda: host.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"), 60, f"a task of {service} on {host.hostname}")
    return json.loads(host.docker("inspect", cid))[0]


def test_a_task_reaches_a_task_on_another_host_over_traefik_net_by_service_name(hosts: Harness, swarm: Swarm, traefik_net: str):
    assert hosts.vxlan, "the kernel cannot create VXLAN devices: overlay networks cannot work here"
    first = swarm.first
    placed = {"hs-overlay-a": hosts["w1"], "hs-overlay-b": hosts["m2"]}
    try:
        for service, host in placed.items():
            swarm.create_service(first, service, "--network", traefik_net, "--constraint", f"node.hostname=={host.hostname}")
        containers = {service: task_container(swarm, host, service) for service, host in placed.items()}
        address = {s: c["NetworkSettings"]["Networks"][traefik_net]["IPAddress"] for s, c in containers.items()}
        for client, server in (("hs-overlay-a", "hs-overlay-b"), ("hs-overlay-b", "hs-overlay-a")):
            host, cid = placed[client], containers[client]["Id"]
            lookup = host.docker("exec", cid, "/hostname-http", "lookup", server)
            assert lookup.split() == [address[server]], f"{server} resolves to its task on {traefik_net}"
            answer = wait_for(
                succeeds(lambda h=host, c=cid, s=server: h.exec(["docker", "exec", c, "/hostname-http", "get", f"http://{s}/"])), 30, f"{client} -> {server}"
            )
            lines = answer.stdout.splitlines()
            assert lines[0] == f"Hostname: {containers[server]['Config']['Hostname']}"
            assert f"IP: {address[server]}" in lines
            assert f"RemoteAddr: {address[client]}:" in answer.stdout, "the request came over traefik-net"
        assert placed["hs-overlay-a"].hostname != placed["hs-overlay-b"].hostname
    finally:
        for service in placed:
            first.docker("service", "rm", service, check=False)
