"""The public recipient (age1...) of an age identity (AGE-SECRET-KEY-1...), computed here so that
the program gives the managers the recipient of `backupKey` without the identity leaving the
settings: `age-keygen -y` does the same.  An age X25519 identity is the Bech32 (BIP 173) encoding
of a 32-byte scalar under the prefix "age-secret-key-"; its recipient is the Bech32 encoding of the
X25519 public key under "age".  Only the encoding is written here; the key arithmetic is the
`cryptography` package's."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
IDENTITY_PREFIX = "age-secret-key-"
RECIPIENT_PREFIX = "age"


class AgeKeyError(ValueError):
    """Not an age X25519 identity (the message never holds the key)."""


def _polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(GENERATOR):
            check ^= gen if (top >> i) & 1 else 0
    return check


def _expand(prefix: str) -> list[int]:
    return [ord(c) >> 5 for c in prefix] + [0] + [ord(c) & 31 for c in prefix]


def _regroup(data: bytes | list[int], source: int, target: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    for value in data:
        acc = (acc << source) | value
        bits += source
        while bits >= target:
            bits -= target
            out.append((acc >> bits) & ((1 << target) - 1))
    if pad and bits:
        out.append((acc << (target - bits)) & ((1 << target) - 1))
    elif not pad and (bits >= source or (acc << (target - bits)) & ((1 << target) - 1)):
        raise AgeKeyError("not an age identity (bad padding)")
    return out


def bech32_decode(text: str, prefix: str) -> bytes:
    lowered = text.strip().lower()
    head, sep, body = lowered.rpartition("1")
    if not sep or head != prefix or len(body) < 6 or any(c not in CHARSET for c in body):
        raise AgeKeyError(f"not a Bech32 string with the prefix {prefix!r}")
    values = [CHARSET.index(c) for c in body]
    if _polymod(_expand(head) + values) != 1:
        raise AgeKeyError("not an age identity (bad checksum)")
    return bytes(_regroup(values[:-6], 5, 8, pad=False))


def bech32_encode(prefix: str, data: bytes) -> str:
    values = _regroup(data, 8, 5, pad=True)
    check = _polymod(_expand(prefix) + values + [0] * 6) ^ 1
    values += [(check >> 5 * (5 - i)) & 31 for i in range(6)]
    return prefix + "1" + "".join(CHARSET[v] for v in values)


def recipient_of(identity: str) -> str:
    """age1... for AGE-SECRET-KEY-1... (as `age-keygen -y`)."""
    scalar = bech32_decode(identity, IDENTITY_PREFIX)
    if len(scalar) != 32:
        raise AgeKeyError("not an age X25519 identity (not 32 bytes)")
    public = X25519PrivateKey.from_private_bytes(scalar).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return bech32_encode(RECIPIENT_PREFIX, public)
