"""An autolocked manager's swarm folder, unlocked at rest with its unlock key (for a restore).

With autolock, a manager's TLS key (`swarm/certificates/swarm-node.key`) is encrypted with the
key-encryption key that the unlock key (`SWMKEY-1-...`) carries, and so is the Raft store's data
key, in the key file's `raft-dek` (and `raft-dek-pending`) header. Docker unlocks such a manager
only once its Raft has a leader (moby/moby#36852): a backup of several managers, restored alone,
never gets one before `docker swarm init --force-new-cluster`, which in turn waits for the unlock.
So `make restore` writes the key file as swarmkit itself writes it when autolock is turned off:
the private key as unencrypted PKCS#8, each data key as a `MaybeEncryptedRecord` of algorithm
NotEncrypted. The Raft store (encrypted with the data key) is untouched. Once the restored manager
runs, swarm encrypts the key again with the cluster's unlock key (autolock stays on in the
cluster; the key file's `kek-version` is set to 0, older than the cluster's), and swarm-restore.sh
rotates that key.

Formats, as swarmkit writes them (ca/keyreadwriter.go, manager/deks.go, manager/encryption):
- the PEM block "ENCRYPTED PRIVATE KEY" (PKCS#8, the KEK as password) with headers `kek-version`,
  `raft-dek`, optionally `raft-dek-pending` and `raft-dek-needs-rotation`;
- a header value: base64 of a protobuf MaybeEncryptedRecord {1: algorithm, 2: data, 3: nonce},
  algorithm 1 = NaCl secretbox (XSalsa20-Poly1305, the KEK as key), 2 = Fernet (FIPS mode).
The cryptography is PyNaCl's and cryptography's, not this module's."""

from __future__ import annotations

import base64
import binascii
import io
import re
import tarfile

import nacl.exceptions
import nacl.secret
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization

KEY_FILE = "swarm/certificates/swarm-node.key"
UNLOCK_KEY = re.compile(r"SWMKEY-1-([A-Za-z0-9+/]+)")
DEK_HEADERS = ("raft-dek", "raft-dek-pending")
NOT_ENCRYPTED, NACL_SECRETBOX, FERNET = 0, 1, 2


class UnlockError(Exception):
    """The archive cannot be unlocked with this key (one line, for the user)."""


def kek_of(unlock_key: str) -> bytes:
    """The key-encryption key an unlock key carries (base64 without padding after SWMKEY-1-)."""
    match = UNLOCK_KEY.fullmatch(unlock_key)
    if not match:
        raise UnlockError("the recorded unlock key is not a SWMKEY-1- key")
    body = match.group(1)
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        raise UnlockError("the recorded unlock key is not valid base64 after SWMKEY-1-") from None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise UnlockError("a raft-dek header is not a MaybeEncryptedRecord (truncated)")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _record(data: bytes) -> tuple[int, bytes, bytes]:
    """A MaybeEncryptedRecord's algorithm, data and nonce."""
    fields: dict[int, int | bytes] = {}
    at = 0
    while at < len(data):
        tag, at = _varint(data, at)
        number, kind = tag >> 3, tag & 7
        if kind == 0:
            fields[number], at = _varint(data, at)
        elif kind == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise UnlockError("a raft-dek header is not a MaybeEncryptedRecord (truncated)")
            fields[number], at = data[at : at + size], at + size
        else:
            raise UnlockError(f"a raft-dek header is not a MaybeEncryptedRecord (wire type {kind})")
    algorithm, payload, nonce = fields.get(1, 0), fields.get(2, b""), fields.get(3, b"")
    if not isinstance(algorithm, int) or not isinstance(payload, bytes) or not isinstance(nonce, bytes):
        raise UnlockError("a raft-dek header is not a MaybeEncryptedRecord")
    return algorithm, payload, nonce


def _plain_record(data: bytes) -> bytes:
    """A MaybeEncryptedRecord of algorithm NotEncrypted (0, the default: not written) holding DATA."""
    size, length = len(data), bytearray()
    while True:
        length.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
        size >>= 7
        if not size:
            break
    return b"\x12" + bytes(length) + data


def _open_dek(value: str, kek: bytes) -> bytes:
    algorithm, payload, nonce = _record(base64.b64decode(value))
    try:
        if algorithm == NOT_ENCRYPTED:
            return payload
        if algorithm == NACL_SECRETBOX:
            return nacl.secret.SecretBox(kek).decrypt(payload, nonce)
        if algorithm == FERNET:
            return Fernet(base64.urlsafe_b64encode(kek)).decrypt(payload)
    except (nacl.exceptions.CryptoError, InvalidToken, ValueError):
        raise UnlockError("the recorded unlock key does not open the Raft store's data key (is it this backup's key?)") from None
    raise UnlockError(f"the Raft store's data key is sealed with an algorithm this tool does not know ({algorithm})")


def _parse_pem(text: str) -> tuple[str, dict[str, str], bytes]:
    lines = text.strip().splitlines()
    begin, end = re.fullmatch(r"-----BEGIN (.+)-----", lines[0] if lines else ""), re.fullmatch(r"-----END (.+)-----", lines[-1] if lines else "")
    if not begin or not end or begin.group(1) != end.group(1):
        raise UnlockError(f"{KEY_FILE} is not one PEM block")
    headers: dict[str, str] = {}
    body = lines[1:-1]
    while body and ":" in body[0]:
        name, _, value = body.pop(0).partition(":")
        headers[name.strip()] = value.strip()
    return begin.group(1), headers, base64.b64decode("".join(line.strip() for line in body))


def _pem(kind: str, headers: dict[str, str], der: bytes) -> str:
    """A PEM block as Go's encoding/pem writes it: headers sorted, a blank line, 64 columns."""
    text = [f"-----BEGIN {kind}-----", *(f"{name}: {headers[name]}" for name in sorted(headers))]
    if headers:
        text.append("")
    body = base64.b64encode(der).decode()
    text += [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([*text, f"-----END {kind}-----", ""])


def unlocked_key_file(text: str, unlock_key: str) -> str:
    """The node key file KEY_FILE without its lock: as swarmkit writes it with autolock off. A key
    file that is not locked comes back as it is."""
    kind, headers, der = _parse_pem(text)
    if kind != "ENCRYPTED PRIVATE KEY" and "Proc-Type" not in headers:
        return text
    if "Proc-Type" in headers:
        raise UnlockError(f"{KEY_FILE} is encrypted in the legacy PEM form, which Docker no longer writes: unlock it with an older tool")
    kek = kek_of(unlock_key)
    try:
        key = serialization.load_der_private_key(der, password=kek)
    except (ValueError, TypeError):
        raise UnlockError("the recorded unlock key does not open the node's TLS key (is it this backup's key?)") from None
    plain = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Version 0: older than the cluster's own key (its version is a Raft index), which the restored
    # manager then takes; the backup's version with no key reads as a conflict ("candidate KEK has
    # the same version as the current KEK, but a different KEK value") and the manager stops.
    out = {**headers, "kek-version": "0"}
    for name in DEK_HEADERS:
        if name in headers:
            out[name] = base64.b64encode(_plain_record(_open_dek(headers[name], kek))).decode()
    return _pem("PRIVATE KEY", out, plain)


def unlocked_archive(archive: bytes, unlock_key: str) -> bytes:
    """The backup's tar.gz (record.txt and swarm/) with KEY_FILE unlocked; every other member as it was."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as source, tarfile.open(fileobj=out, mode="w:gz") as target:
        found = False
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name.removeprefix("./") == KEY_FILE and data is not None:
                data = unlocked_key_file(data.decode(), unlock_key).encode()
                member.size = len(data)
                found = True
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    if not found:
        raise UnlockError(f"the archive holds no {KEY_FILE}")
    return out.getvalue()
