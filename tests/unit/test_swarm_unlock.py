"""make restore of an autolocked swarm: the node key file unlocked at rest with the recorded unlock
key, exactly as swarmkit writes it with autolock off (tools/swarm_unlock.py), checked against a key
file a real Docker daemon wrote locked and then unlocked (tests/unit/fixtures/autolock)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tools.swarm_unlock import KEY_FILE, UnlockError, _parse_pem, unlocked_archive, unlocked_key_file

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "autolock"
LOCKED = (FIXTURES / "swarm-node.key").read_text()
# The same key file as a key made later in the cluster's life has it (the version is a Raft index).
LOCKED_LATER = LOCKED.replace("kek-version: 0", "kek-version: 27")
UNLOCK_KEY = (FIXTURES / "unlock-key").read_text().strip()
AUTOLOCK_OFF = (FIXTURES / "swarm-node.key.autolock-off").read_text()
OTHER_KEY = "SWMKEY-1-" + "A" * 43


def test_the_unlocked_key_file_is_the_one_docker_writes_when_autolock_is_turned_off() -> None:
    kind, headers, der = _parse_pem(unlocked_key_file(LOCKED, UNLOCK_KEY))
    want_kind, want_headers, want_der = _parse_pem(AUTOLOCK_OFF)
    assert (kind, der) == (want_kind, want_der), "the same private key, unencrypted PKCS#8"
    assert headers["raft-dek"] == want_headers["raft-dek"], "the Raft store's data key, as a record of algorithm NotEncrypted"
    assert headers["kek-version"] == "0", "older than any cluster key (a Raft index): the cluster's replaces it"


def test_the_unlocked_key_file_is_of_version_0_whatever_the_locked_ones_version() -> None:
    assert "kek-version: 27" in LOCKED_LATER
    assert _parse_pem(unlocked_key_file(LOCKED_LATER, UNLOCK_KEY))[1]["kek-version"] == "0"


def test_the_unlocked_private_key_is_the_one_of_the_nodes_certificate() -> None:
    _, _, der = _parse_pem(unlocked_key_file(LOCKED, UNLOCK_KEY))
    key = serialization.load_der_private_key(der, password=None)
    certificate = x509.load_pem_x509_certificate((FIXTURES / "swarm-node.crt").read_bytes())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == certificate.public_key().public_bytes(serialization.Encoding.DER, spki)


def test_a_key_file_that_is_not_locked_comes_back_as_it_is() -> None:
    assert unlocked_key_file(AUTOLOCK_OFF, UNLOCK_KEY) == AUTOLOCK_OFF


@pytest.mark.parametrize(
    ("key", "said"), [(OTHER_KEY, "does not open the node's TLS key"), ("SWMKEY-2-abc", "not a SWMKEY-1- key"), (UNLOCK_KEY + "\n", "not a SWMKEY-1- key")]
)
def test_a_wrong_or_malformed_unlock_key_is_refused_in_one_line(key: str, said: str) -> None:
    with pytest.raises(UnlockError) as info:
        unlocked_key_file(LOCKED, key)
    assert said in str(info.value) and "\n" not in str(info.value)
    assert UNLOCK_KEY not in str(info.value)


def archive(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_the_archive_keeps_every_other_member_and_its_node_key_is_unlocked() -> None:
    source = {"record.txt": b"time 2026\n", "swarm/raft/wal-v3-encrypted/0.wal": b"\x00sealed", KEY_FILE: LOCKED.encode()}
    out = members(unlocked_archive(archive(source), UNLOCK_KEY))
    assert out.keys() == source.keys()
    assert {k: v for k, v in out.items() if k != KEY_FILE} == {k: v for k, v in source.items() if k != KEY_FILE}
    assert out[KEY_FILE].decode() == unlocked_key_file(LOCKED, UNLOCK_KEY)


def test_an_archive_without_a_node_key_is_refused() -> None:
    with pytest.raises(UnlockError, match=r"holds no swarm/certificates/swarm-node\.key"):
        unlocked_archive(archive({"record.txt": b"x"}), UNLOCK_KEY)
