"""Backups of the swarm's Raft store, on the operator's side (`make backup`, `make restore`,
`make verify BACKUP=...`; tools/backup.py).

The node side is ha_swarm/nodes/scripts/swarm-backup.sh (on a manager that is not the leader, with
the quorum check: its daemon stopped while `<DockerRootDir>/swarm` is archived) and
swarm-restore.sh (`docker swarm init --force-new-cluster` on the archive).  The archive travels as
a tar.gz of `record.txt` and `swarm/` on the SSH session's stdout and is encrypted here, before it
touches a disk, with age (https://age-encryption.org: authenticated encryption, from the
distribution's `age` package) to the recipient of the stack's secret `backupKey`, an age identity.
The plain archive is never written on this machine: decrypting for a restore streams it to the
node.  The record holds the time, the swarm, the nodes, services, networks, secrets and configs (by
ID and name), and with autolock the unlock key that opens the archive's Raft store.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ARCHIVE_SUFFIX = ".swarm.age"
KINDS = ("service", "network", "secret", "config")  # what a restore must bring back, as compared


class BackupError(RuntimeError):
    """A backup or a restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class NodeEntry:
    id: str
    hostname: str
    name: str  # the ha-swarm.name label, else "-"
    role: str
    addr: str


@dataclass(frozen=True)
class Inventory:
    """A swarm's nodes and its (kind, id, name) items, as swarm-inventory.sh prints them."""

    nodes: tuple[NodeEntry, ...] = ()
    items: tuple[tuple[str, str, str], ...] = ()

    def of(self, kind: str) -> dict[str, str]:
        """Name -> ID of the items of KIND."""
        return {name: ident for k, ident, name in self.items if k == kind}


def parse_inventory(lines: Iterable[str]) -> Inventory:
    nodes: list[NodeEntry] = []
    items: list[tuple[str, str, str]] = []
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "node" and len(words) == 6:
            nodes.append(NodeEntry(*words[1:]))
        elif words[0] in KINDS and len(words) == 3:
            items.append((words[0], words[1], words[2]))
    return Inventory(tuple(nodes), tuple(items))


@dataclass(frozen=True)
class Record:
    """record.txt of an archive."""

    time: str
    swarm: str
    taken_on: str  # the manager it was taken on (its name)
    engine: str
    autolock: bool
    inventory: Inventory
    unlock_key: str | None = field(default=None, repr=False)  # a secret: never printed


def parse_record(text: str) -> Record:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in ("format", "time", "swarm", "taken-on", "engine", "autolock", "unlock-key"):
            fields[key] = value.strip()
    if fields.get("format") != "1" or "time" not in fields:
        raise BackupError("the archive's record.txt is not a record of swarm-backup.sh (format 1)")
    taken_on = fields.get("taken-on", "").split()
    return Record(
        time=fields["time"],
        swarm=fields.get("swarm", ""),
        taken_on=taken_on[-1] if taken_on else "",
        engine=fields.get("engine", ""),
        autolock=fields.get("autolock") == "true",
        inventory=parse_inventory(text.splitlines()),
        unlock_key=fields.get("unlock-key") or None,
    )


def record_of(archive: bytes) -> Record:
    """The record of a decrypted archive (a tar.gz of record.txt and swarm/)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = tar.extractfile("record.txt")
            if member is None:
                raise KeyError("record.txt")
            return parse_record(member.read().decode())
    except (tarfile.TarError, KeyError, UnicodeDecodeError) as error:
        raise BackupError(f"not a swarm backup archive (a tar.gz with record.txt and swarm/): {error}") from None


# -- the archives on this machine -------------------------------------------------------------------


ARCHIVE_TIME = "%Y%m%dT%H%M%SZ"  # the UTC time in an archive's name (16 characters)


def archive_name(stack: str, when: datetime, node: str) -> str:
    """<stack>-<UTC time>-<node>.swarm.age: sorting by name sorts by time."""
    return f"{stack}-{when:{ARCHIVE_TIME}}-{node}{ARCHIVE_SUFFIX}"


def archives(folder: Path, stack: str) -> list[Path]:
    """The stack's archives in FOLDER, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.startswith(f"{stack}-2") and p.name.endswith(ARCHIVE_SUFFIX))


def taken_on(path: Path, stack: str) -> str | None:
    """The manager an archive of the stack was taken on, read from its name (archive_name)."""
    head, tail = f"{stack}-", ARCHIVE_SUFFIX
    name = path.name
    if not (name.startswith(head) and name.endswith(tail)):
        return None
    when, _, node = name[len(head) : -len(tail)].partition("-")
    if not node or len(when) != 16:  # strptime alone would take a month or a day of one digit
        return None
    try:
        datetime.strptime(when, ARCHIVE_TIME)
    except ValueError:
        return None
    return node


def newest_taken_on(folder: Path, stack: str, node: str) -> Path:
    """The newest archive of the stack in FOLDER taken on NODE: an archive restores only on the
    manager it was taken on (the Raft store keeps that manager's address; Docker has no way to
    change it: docker/docs#7931, moby/swarmkit#642)."""
    found = archives(folder, stack)
    mine = [p for p in found if taken_on(p, stack) == node]
    if mine:
        return mine[-1]
    others = sorted({n for p in found if (n := taken_on(p, stack))})
    held = f"{folder} holds archives taken on {', '.join(others)}" if others else f"{folder} holds no archive of the stack {stack}"
    raise BackupError(f"no archive taken on {node}: {held} (make backup NODE={node}; make backup-pull copies the scheduled ones)")


def prune(folder: Path, stack: str, keep: int) -> list[Path]:
    """Remove all but the KEEP newest archives of the stack; the removed ones."""
    found = archives(folder, stack)
    gone = found[: max(0, len(found) - keep)]
    for path in gone:
        path.unlink()
    return gone


# -- age ---------------------------------------------------------------------------------------------


def _age(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(list(argv), capture_output=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed: install the distribution's package `age` (apt-get install age, dnf install age)") from None


def recipient(identity: str) -> str:
    """The public recipient (age1...) of an age identity (given on stdin, never in argv)."""
    res = _age(["age-keygen", "-y"], input=identity.strip().encode() + b"\n")
    if res.returncode != 0:
        raise BackupError("age-keygen -y refused the stack's backupKey (not an age identity?)")
    return res.stdout.decode().strip()


def new_identity() -> str:
    """A new age identity (AGE-SECRET-KEY-1...)."""
    res = _age(["age-keygen"])
    keys = [line for line in res.stdout.decode().splitlines() if line.startswith("AGE-SECRET-KEY-1")]
    if res.returncode != 0 or len(keys) != 1:
        raise BackupError(f"age-keygen failed: {res.stderr.decode().strip()}")
    return keys[0]


def decrypt(identity: str, path: Path) -> bytes:
    """The decrypted archive at PATH (kept in memory: a swarm's Raft store is a few MB)."""
    res = _age(["age", "--decrypt", "-i", "-", str(path)], input=identity.strip().encode() + b"\n")
    if res.returncode != 0:
        raise BackupError(f"cannot decrypt {path} with the stack's backupKey: {res.stderr.decode().strip()}")
    return res.stdout


# -- after a restore ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    check: str
    target: str
    result: str  # OK or FAIL
    detail: str


def compare(record: Record, live: Inventory) -> list[Row]:
    """The restored swarm against the backup's record: every service, network, secret and config of
    the backup is there with the same ID (the same object, not one made anew), and every node of the
    backup is a member again (by its name: a node that joined again has a new ID)."""
    rows: list[Row] = []
    for kind in KINDS:
        want, have = record.inventory.of(kind), live.of(kind)
        for name, ident in sorted(want.items()):
            if name not in have:
                rows.append(Row(f"restored-{kind}", name, "FAIL", "missing"))
            elif have[name] != ident:
                rows.append(Row(f"restored-{kind}", name, "FAIL", f"another {kind} of that name (ID {have[name]}, the backup's {ident})"))
            else:
                rows.append(Row(f"restored-{kind}", name, "OK", f"ID {ident}"))
        for name in sorted(set(have) - set(want)):
            rows.append(Row(f"restored-{kind}", name, "OK", "not in the backup (made since)"))
    members = {n.name if n.name != "-" else n.hostname for n in live.nodes}
    for node in record.inventory.nodes:
        name = node.name if node.name != "-" else node.hostname
        rows.append(Row("restored-node", name, "OK" if name in members else "FAIL", node.role if name in members else "not a member (run pulumi up)"))
    return rows


def table(rows: Sequence[Row]) -> str:
    """The rows as verify.sh prints its table, and a last line that sums them up."""
    head = Row("CHECK", "TARGET", "RESULT", "DETAIL")
    widths = [max(len(getattr(r, f)) for r in (head, *rows)) for f in ("check", "target", "result")]
    lines = [f"{r.check:<{widths[0]}}  {r.target:<{widths[1]}}  {r.result:<{widths[2]}}  {r.detail}".rstrip() for r in (head, *rows)]
    failed = sum(r.result != "OK" for r in rows)
    lines.append(f"restore check: {len(rows) - failed} of {len(rows)} as in the backup" + (f", {failed} FAILED" if failed else ""))
    return "\n".join(lines)
