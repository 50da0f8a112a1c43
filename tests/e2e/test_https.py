"""Issue 8, HTTPS for real: one stack on the test hosts, in file order.

1. Certificates of the user's own (a private CA's wildcard for *.e2e.test) as swarm secrets:
   Traefik on every manager serves them on 443, http redirects; with one manager's daemon stopped
   the others still answer; the key is in no state file and no CLI output.
2. The same stack switched to ACME against Let's Encrypt's test server pebble (built from Go
   modules, running in the control namespace, its mock DNS answering every name with the first
   manager's address): one Traefik on the labelled manager gets certificates issued by pebble
   (TLS-ALPN-01 validated against it) and keeps them on its named volume across a restart.
3. destroy leaves no service, secret or config.

No IPVS here, so ports are published in host mode: in ACME mode only the store's manager answers
(on a real cluster the routing mesh makes every node answer for the one Traefik).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.certs import private_ca, server_certificate
from tests.e2e.deployment import DOMAIN, Deployment, hostnames
from tests.e2e.pebble import Pebble
from tests.e2e.toolchain import Toolchain
from tests.support.cluster import wait_for
from tests.support.hosts import Host

HOST = f"whoami0.{DOMAIN}"
OWN_CA_NAME = "ha-swarm e2e wildcard CA"
PEBBLE_EMAIL = "e2e@example.test"


def managers(dep: Deployment) -> list[str]:
    return [h.address for h in dep.harness.managers]


def https(dep: Deployment, address: str, ca: Path, host: str = HOST, *extra: str) -> subprocess.CompletedProcess:
    """GET https://HOST/ from the control namespace, pinned to ADDRESS, the certificate checked against CA."""
    argv = ["curl", "--noproxy", "*", "-sS", "--max-time", "10", "--fail", "--cacert", str(ca), "--resolve", f"{host}:443:{address}", *extra, f"https://{host}/"]
    return dep.harness.in_ctl(argv, timeout=30)


def serves(dep: Deployment, address: str, ca: Path, host: str = HOST) -> bool:
    res = https(dep, address, ca, host)
    return res.returncode == 0 and "Hostname:" in res.stdout


def both_replicas(dep: Deployment, address: str, ca: Path) -> bool:
    answers = [https(dep, address, ca) for _ in range(6)]
    return all(a.returncode == 0 for a in answers) and len(set(hostnames([a.stdout for a in answers]))) == 2


def issuer(dep: Deployment, address: str, ca: Path, host: str = HOST) -> str:
    """The issuer line of the certificate served for HOST, as curl -v reports it."""
    res = https(dep, address, ca, host, "-v", "-o", "/dev/null")
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [line.split("issuer:", 1)[1].strip() for line in res.stderr.splitlines() if "issuer:" in line]
    assert lines, res.stderr[-2000:]
    return lines[0]


def redirect(dep: Deployment, address: str, host: str = HOST) -> tuple[int, str]:
    argv = ["curl", "--noproxy", "*", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", f"Host: {host}", f"http://{address}/"]
    res = dep.harness.in_ctl(argv, timeout=30)
    assert res.returncode == 0, res.stderr
    code, _, url = res.stdout.partition(" ")
    return int(code), url.strip()


def changes(summary: dict[str, int] | None) -> dict[str, int]:
    return {op: n for op, n in (summary or {}).items() if op != "same" and n}


@pytest.fixture(scope="module")
def tls_dir(deployment: Deployment) -> Path:
    path = deployment.run_dir / "tls"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def own_ca(tls_dir: Path) -> Path:
    return private_ca(tls_dir, OWN_CA_NAME)


def outbound_nat(host: Host) -> None:
    """Let the host's containers reach the control namespace, as a dockerd with iptables on would:
    the test daemons run with --iptables=false, so nothing masquerades the docker_gwbridge subnet
    (Traefik's requests to pebble would leave with a source address nobody routes back)."""
    subnet = host.docker("network", "inspect", "docker_gwbridge", "--format", "{{(index .IPAM.Config 0).Subnet}}").strip()
    host.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
    rule = ["POSTROUTING", "-s", subnet, "!", "-o", "docker_gwbridge", "-j", "MASQUERADE"]
    if host.exec(["iptables", "-t", "nat", "-C", *rule]).returncode != 0:
        host.exec(["iptables", "-t", "nat", "-A", *rule], check=True)


@pytest.fixture(scope="module")
def pebble(deployment: Deployment, toolchain: Toolchain) -> Iterator[Pebble]:
    harness = deployment.harness
    with Pebble(harness.ctl_ns, harness.ctl_address, deployment.first.address, pebble=toolchain.pebble, challtestsrv=toolchain.pebble_challtestsrv) as server:
        yield server


# --------------------------------------------------------------------------- certificates


def test_own_certificates_are_served_by_traefik_on_every_manager(deployment: Deployment, tls_dir: Path, own_ca: Path) -> None:
    cert, key = server_certificate(tls_dir, f"DNS:*.{DOMAIN}", "wildcard")
    deployment.traefik_extra = {"certificates": [{"cert": cert.read_text(), "key": key.read_text()}]}
    deployment.configure()
    result = deployment.up("up with certificates of our own (swarm secrets)")
    assert result.summary.result == "succeeded"
    deployment.wait_running("traefik", 3, 240)  # a Traefik on every manager
    assert sorted(t["Node"] for t in deployment.running("traefik")) == ["he-m1", "he-m2", "he-m3"]
    secrets = deployment.first.docker("secret", "ls", "--format", "{{.Name}}").split()
    assert sorted(s.rsplit("-", 1)[0] for s in secrets) == ["traefik-cert-0", "traefik-key-0"], secrets
    for address in managers(deployment):
        wait_for(lambda a=address: serves(deployment, a, own_ca), 90, f"https://{HOST}/ through {address}")
        assert OWN_CA_NAME in issuer(deployment, address, own_ca)
        # Both replicas answer (Traefik's swarm provider may take a poll or two to see the second).
        wait_for(lambda a=address: both_replicas(deployment, a, own_ca), 60, f"both whoami0 replicas over https through {address}")
        code, url = redirect(deployment, address)
        assert code in (301, 308) and url == f"https://{HOST}/", (code, url)
    # Outputs: the https curl lines name every manager.
    endpoint = next(e for e in result.outputs["endpoints"].value if e["host"] == HOST)
    assert endpoint["curlEveryNode"] == [f"curl --resolve {HOST}:443:{a} https://{HOST}/" for a in managers(deployment)]


def test_https_survives_the_loss_of_one_manager(deployment: Deployment, own_ca: Path) -> None:
    lost = deployment.harness["m2"]
    lost.stop_docker()
    try:
        for address in (deployment.harness["m1"].address, deployment.harness["m3"].address):
            # Three answers in a row: Traefik has dropped the tasks that ran on the lost node.
            wait_for(lambda a=address: all(serves(deployment, a, own_ca) for _ in range(3)), 90, f"https through {address} with m2 down")
        assert not serves(deployment, lost.address, own_ca)
    finally:
        lost.start_docker()
    wait_for(lambda: any(n["Hostname"] == "he-m2" and n["Status"] == "Ready" for n in deployment.nodes()), 120, "m2 Ready again")
    wait_for(lambda: len(deployment.running("traefik")) == 3, 240, "Traefik back on m2")


def test_the_private_key_is_in_no_state_file_and_no_output(deployment: Deployment, tls_dir: Path) -> None:
    body = "".join(line for line in (tls_dir / "wildcard.key").read_text().splitlines() if "-----" not in line)
    assert len(body) > 60
    for path in deployment.state_files():
        assert body[:60] not in path.read_text(errors="replace"), f"the key is readable in {path}"
    assert not any(body[:60] in line for line in deployment.outputs)


# --------------------------------------------------------------------------- ACME


def test_acme_gets_certificates_from_pebble_for_one_traefik_on_the_store_node(deployment: Deployment, pebble: Pebble, tls_dir: Path) -> None:
    deployment.traefik_extra = {"acme": {"email": PEBBLE_EMAIL, "caServer": pebble.directory_url, "caBundle": pebble.ca_bundle_pem}}
    deployment.configure()
    result = deployment.up("up switched to ACME (pebble)")
    assert result.summary.result == "succeeded"
    wait_for(lambda: [t["Node"] for t in deployment.running("traefik")] == ["he-m1"], 120, "one Traefik, on m1")
    outbound_nat(deployment.first)  # Traefik retries the ACME server every 30 s or so
    labels = json.loads(deployment.first.docker("node", "inspect", "he-m1"))[0]["Spec"]["Labels"]
    assert labels.get("ha-swarm.traefik-acme") == "true"
    assert deployment.first.docker("secret", "ls", "-q") == "", "the certificates' secrets were removed"
    roots = tls_dir / "pebble-roots.pem"
    roots.write_text(pebble.issuing_roots_pem())
    first = deployment.first.address
    try:
        wait_for(lambda: serves(deployment, first, roots), 180, f"https://{HOST}/ with a certificate from pebble")
    except AssertionError as err:
        logs = deployment.first.docker("service", "logs", "--tail", "40", "traefik", check=False)
        raise AssertionError(f"{err}\n--- Traefik ---\n{logs}\n{pebble.log_tails()}") from None
    assert "Pebble Intermediate" in issuer(deployment, first, roots)
    wait_for(lambda: serves(deployment, first, roots, f"whoami1.{DOMAIN}"), 120, f"https://whoami1.{DOMAIN}/ too")
    code, url = redirect(deployment, first)
    assert code in (301, 308) and url == f"https://{HOST}/", (code, url)


def acme_store(dep: Deployment) -> dict:
    host = dep.harness["m1"]
    mountpoint = host.docker("volume", "inspect", "traefik-acme", "--format", "{{.Mountpoint}}").strip()
    res = host.exec(["cat", f"{mountpoint}/acme.json"], timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_a_restarted_acme_traefik_finds_its_certificates_on_its_volume(deployment: Deployment, tls_dir: Path) -> None:
    store = acme_store(deployment)
    domains = sorted(c["domain"]["main"] for c in store["le"]["Certificates"] or [])
    assert f"whoami0.{DOMAIN}" in domains, domains
    deployment.first.docker("service", "update", "--force", "--detach", "traefik")
    wait_for(lambda: len(deployment.running("traefik")) == 1 and deployment.running("traefik")[0]["Node"] == "he-m1", 120, "Traefik restarted on m1")
    roots = tls_dir / "pebble-roots.pem"
    wait_for(lambda: serves(deployment, deployment.first.address, roots), 120, "https after the restart")
    assert acme_store(deployment)["le"]["Certificates"] == store["le"]["Certificates"], "the certificates were requested again"


def test_a_second_run_changes_nothing_and_destroy_takes_everything_down(deployment: Deployment) -> None:
    preview = deployment.preview("preview with no change (ACME)", expect_no_changes=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-3000:]
    deployment.destroy("destroy (ACME)")
    for host in deployment.harness:
        assert host.info("{{.Swarm.LocalNodeState}}") == "inactive", host.hostname
        assert host.docker("ps", "-q") == "", f"{host.hostname} still runs containers"
