"""The toolchain's pebble (test ACME server) and pebble-challtestsrv (its DNS) as tests/e2e/pebble.py
runs them, in a throwaway network namespace of their own (loopback only): the directory answers
over HTTPS verified by the generated CA, every name resolves to the default address, one name can
be pointed elsewhere, and the root that signs what pebble issues can be had as PEM."""

from __future__ import annotations

import os
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.pebble import Pebble, in_netns
from tests.e2e.toolchain import Toolchain, find_toolchain

NODE = "192.0.2.10"  # where every name points (Traefik's node, in a real run)


@pytest.fixture(scope="module")
def pebble_toolchain() -> Toolchain:
    if os.geteuid() != 0:
        pytest.skip("needs root: pebble runs in a network namespace of its own")
    found, why = find_toolchain(("pebble",))
    if found is None:
        pytest.skip(f"pebble not run: {why}")
    return found


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"pebble-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def acme(pebble_toolchain: Toolchain, netns: str) -> Iterator[Pebble]:
    with Pebble(netns, "127.0.0.1", NODE, pebble=pebble_toolchain.pebble, challtestsrv=pebble_toolchain.pebble_challtestsrv) as running:
        yield running


def test_the_directory_answers_over_https_verified_by_the_generated_ca(acme: Pebble) -> None:
    assert acme.directory_url == "https://127.0.0.1:14000/dir"
    directory = acme.directory()
    assert str(directory["newOrder"]).startswith("https://127.0.0.1:14000/")
    assert acme.ca_bundle_pem.startswith("-----BEGIN CERTIFICATE-----")
    # ... and by nothing else: with the system's trust store the certificate is refused.
    with pytest.raises(ssl.SSLCertVerificationError):
        in_netns(acme.netns, lambda: fetch(ssl.create_default_context(), acme.directory_url))


def fetch(context: ssl.SSLContext, url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=5) as res:
            return res.read().decode()
    except urllib.error.URLError as err:
        raise err.reason if isinstance(err.reason, BaseException) else err from err


def test_every_name_resolves_to_the_default_address_and_one_can_be_changed(acme: Pebble) -> None:
    assert acme.resolve_a("whoami0.e2e.test") == [NODE]
    assert acme.resolve_a("anything.example.org") == [NODE]
    acme.set_a("other.e2e.test", "192.0.2.20")
    assert acme.resolve_a("other.e2e.test") == ["192.0.2.20"]
    assert acme.resolve_a("whoami0.e2e.test") == [NODE]
    acme.set_a("other.e2e.test")
    assert acme.resolve_a("other.e2e.test") == [NODE]


def test_the_issuing_root_is_a_pem_certificate(acme: Pebble) -> None:
    root = acme.issuing_roots_pem()
    assert root.startswith("-----BEGIN CERTIFICATE-----") and root.rstrip().endswith("-----END CERTIFICATE-----")
    res = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=root, capture_output=True, text=True, check=True)
    assert "Pebble Root CA" in res.stdout
    chain = acme.issuing_roots_pem(intermediates=True)
    assert chain.count("-----BEGIN CERTIFICATE-----") == 2 and chain.endswith(root)
