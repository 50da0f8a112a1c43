"""Back up the swarm, restore it, and check a restore (the node side: swarm-backup.sh, swarm-restore.sh).

    python -m tools.backup backup  [--stack S] [--cwd DIR] [--dir DIR] [--keep N] [--node M]  (make backup [NODE=M])
    python -m tools.backup pull    [--stack S] [--cwd DIR] [--dir DIR] [--keep N]     (make backup-pull)
    python -m tools.backup restore [ARCHIVE] [--node M] [--dir DIR] [--stack S] [--cwd DIR] [--force]
                                                                   (make restore BACKUP=... | NODE=M)
    python -m tools.backup check   ARCHIVE [--stack S] [--cwd DIR]                   (make verify BACKUP=...)

backup:  asks a manager for the managers, picks --node (NODE=) or else the first of the stack's
         managers that is reachable and not the leader (one manager alone: that one, and it says the control plane stops),
         runs swarm-backup.sh there as root (quorum check, daemon stopped while its swarm folder is
         archived, started again, reachable again), encrypts the archive on the way with age to the
         stack's secret `backupKey` (made the first time: `pulumi config set --secret`), writes it
         to `backup.dir` (default $HA_SWARM_CACHE/backups/<stack>, mode 0600) and keeps the last
         `backup.keep` (default 7).
pull:    copies the archives of the scheduled backup (backup.schedule) from every reachable manager's
         backup.nodeDir that are not in the folder yet (already encrypted on the managers), keeps
         the last `backup.keep`.
restore: decrypts ARCHIVE (or, with --node alone, the newest archive in the folder taken on that
         manager), streams it with the recorded unlock key to the manager it was taken on (an
         archive restores only there: its Raft store keeps that manager's address), runs
         swarm-restore.sh there as root, and records `swarm.restored` (a new generation) and
         `swarm.restoredOn` in the stack's config, so that the next `pulumi up` joins every other
         node again.
check:   the restored swarm against the archive's record (services, networks, secrets, configs by
         ID; the nodes by name): a table like make verify's; exit 1 when something differs.
Nothing secret is printed: not the keys, not the unlock key, not the join tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ha_swarm.config import NAMESPACE, SettingsError
from ha_swarm.config.model import Settings
from ha_swarm.day2.backup import (
    ARCHIVE_SUFFIX,
    BackupError,
    Record,
    archive_name,
    compare,
    decrypt,
    new_identity,
    newest_taken_on,
    parse_inventory,
    prune,
    recipient,
    record_of,
    table,
)
from ha_swarm.ingress.docker_access import write_key_file
from ha_swarm.nodes.node import NodeSpec
from ha_swarm.nodes.remote import script_command
from tools.swarm_unlock import UnlockError, unlocked_archive
from tools.verify import SSH_UNREACHABLE, VerifyError, pinned_keys, pulumi_json, settings_from_config, ssh_argv

KEY = f"{NAMESPACE}:backupKey"


def say(line: str) -> None:
    print(f"backup: {line}", file=sys.stderr, flush=True)


class Stack:
    """The stack's config as the tools read it, and the commands that change it."""

    def __init__(self, stack: str | None, cwd: str | None) -> None:
        self.stack, self.cwd = stack, cwd
        self.config: Mapping[str, Any] = pulumi_json(["config", "--show-secrets"], stack, cwd) or {}
        self.settings: Settings = settings_from_config(self.config)
        self.ssh_key = write_key_file(self.settings.ssh_private_key)
        # The host keys the stack pinned (output hostKeys): every ssh of the backup checks them.
        self.outputs: Mapping[str, Any] = pulumi_json(["stack", "output"], stack, cwd) or {}

    def name(self) -> str:
        if self.stack:
            return self.stack
        res = subprocess.run(["pulumi", "stack", "--show-name", *(["--cwd", self.cwd] if self.cwd else [])], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise BackupError(f"no stack selected: {res.stderr.strip()}")
        return res.stdout.strip()

    def pulumi(self, *args: str, stdin: str | None = None) -> None:
        argv = ["pulumi", *args, *(["--stack", self.stack] if self.stack else []), *(["--cwd", self.cwd] if self.cwd else [])]
        res = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise BackupError(f"`pulumi {args[0]} {args[1] if len(args) > 1 else ''}` failed: {res.stderr.strip()}")

    def backup_key(self, make: bool) -> str:
        entry = self.config.get(KEY)
        if entry and entry.get("value"):
            return str(entry["value"])
        if not make:
            raise BackupError(f"the stack has no {KEY}: restore needs the key its archives were encrypted with (pulumi config set --secret backupKey)")
        identity = new_identity()
        # On stdin: never in a command line.
        self.pulumi("config", "set", "--secret", KEY, stdin=identity + "\n")
        say("made the archives' key, the secret backupKey of the stack: keep a copy away from this machine (pulumi config get backupKey)")
        return identity

    def record_restored(self, generation: str, node: str) -> None:
        """swarm.restored := GENERATION, swarm.restoredOn := NODE, however `swarm` is stored (an
        object, or JSON text)."""
        entry = self.config.get(f"{NAMESPACE}:swarm")
        value = entry.get("value") if entry else None
        if entry and "objectValue" not in entry and isinstance(value, str) and value.strip():
            swarm = json.loads(value)
            swarm.update(restored=generation, restoredOn=node)
            self.pulumi("config", "set", f"{NAMESPACE}:swarm", json.dumps(swarm))
        else:
            self.pulumi("config", "set", "--path", f"{NAMESPACE}:swarm.restored", generation)
            self.pulumi("config", "set", "--path", f"{NAMESPACE}:swarm.restoredOn", node)

    def folder(self, override: str | None) -> Path:
        chosen = override or self.settings.backup.dir
        if chosen:
            return Path(chosen).expanduser()
        cache = os.environ.get("HA_SWARM_CACHE") or str(Path.home() / ".cache" / "ha-swarm")
        return Path(cache) / "backups" / self.name()

    def ssh(self, spec: NodeSpec, script: str, *args: str, as_root: bool = False) -> list[str]:
        host_key, jump_host_key = pinned_keys(self.outputs, spec)
        return [*ssh_argv(spec, self.ssh_key, host_key, jump_host_key), script_command(script, *args, as_root=as_root and spec.user != "root")]


def _ran(res: subprocess.CompletedProcess[Any], spec: NodeSpec, what: str) -> None:
    if res.returncode == SSH_UNREACHABLE:
        raise BackupError(f"could not reach {spec.user}@{spec.ssh_address} over SSH")
    if res.returncode != 0:
        raise BackupError(f"{what} failed on {spec.name} (see its message above)")


def managers_status(stack: Stack) -> tuple[NodeSpec, list[list[str]]]:
    """The first of the stack's managers that answers, and its swarm's managers (NAME ID ADDR REACH LEADER)."""
    for spec in stack.settings.managers:
        res = subprocess.run(stack.ssh(spec, "swarm-managers.sh"), capture_output=True, text=True, check=False)
        if res.returncode == 0:
            return spec, [line.split() for line in res.stdout.splitlines() if len(line.split()) == 5]
        say(f"{spec.name} cannot say who the managers are: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
    raise BackupError("no manager of the stack answers as a manager of a working swarm: nothing to back up (a swarm without quorum: restore the last backup)")


def choose(settings: Settings, status: Sequence[Sequence[str]], wanted: str | None = None) -> NodeSpec:
    """The manager to back up on: WANTED (`make backup NODE=...`: an archive restores on the manager
    it was taken on, so this is where a restore can go) when it is reachable and not the leader;
    else the first of the stack's managers that is; with one manager, that one."""
    by_name = {row[0]: row for row in status}
    if wanted is not None:
        spec = next((m for m in settings.managers if m.name == wanted), None)
        if spec is None:
            raise BackupError(f"NODE={wanted!r} is refused: a manager of this stack ({', '.join(m.name for m in settings.managers)})")
        row = by_name.get(wanted)
        if row is None:
            raise BackupError(f"NODE={wanted!r} is refused: not a manager of the swarm (its managers: {', '.join(by_name)})")
        if len(status) > 1 and row[3] != "reachable":
            raise BackupError(f"NODE={wanted!r} is refused: it is {row[3]}, not reachable")
        if len(status) > 1 and row[4] == "true":
            raise BackupError(f"NODE={wanted!r} is refused: it is the leader (a backup stops its daemon; choose another manager)")
        return spec
    if len(status) == 1:
        spec = next((m for m in settings.managers if m.name == status[0][0]), None)
        if spec is None:
            raise BackupError(f"the swarm's only manager, {status[0][0]}, is not a manager of this stack")
        return spec
    for spec in settings.managers:
        row = by_name.get(spec.name)
        if row is not None and row[3] == "reachable" and row[4] != "true":
            return spec
    raise BackupError("no manager of the stack is reachable and not the leader: a backup would stop the leader or break the quorum")


def run_backup(stack: Stack, folder_override: str | None, keep_override: int | None, wanted: str | None = None) -> Path:
    start = time.monotonic()
    identity = stack.backup_key(make=True)
    to = recipient(identity)
    asked, status = managers_status(stack)
    node = choose(stack.settings, status, wanted)
    leader = next((row[0] for row in status if row[4] == "true"), "?")
    if len(status) == 1:
        say(f"one manager: {node.name}'s Docker daemon stops while its swarm folder is archived; the control plane is down meanwhile (tasks keep serving)")
    else:
        say(f"backing up on {node.name} (not the leader, {leader}; {len(status)} managers, asked {asked.name})")
    folder = stack.folder(folder_override)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = folder / archive_name(stack.name(), datetime.now(UTC), node.name)
    part = final.with_name(final.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            # The archive goes from ssh's stdout straight into age: never on a disk unencrypted.
            ssh = subprocess.Popen(stack.ssh(node, "swarm-backup.sh", as_root=True), stdout=subprocess.PIPE)
            try:
                age = subprocess.Popen(["age", "--encrypt", "-r", to], stdin=ssh.stdout, stdout=out)
            except FileNotFoundError:
                ssh.kill()
                raise BackupError("age is not installed: install the distribution's package `age` (apt-get install age)") from None
            assert ssh.stdout is not None
            ssh.stdout.close()
            age_rc, ssh_rc = age.wait(), ssh.wait()
        _ran(subprocess.CompletedProcess([], ssh_rc), node, "swarm-backup.sh")
        if age_rc != 0:
            raise BackupError("age could not encrypt the archive")
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    keep = keep_override or stack.settings.backup.keep
    gone = prune(folder, stack.name(), keep)
    size = final.stat().st_size
    say(f"wrote {final} ({size} bytes, encrypted) in {time.monotonic() - start:.1f}s; keeping the last {keep}" + (f", removed {len(gone)} older" if gone else ""))
    print(final)
    return final


# Why an archive restores only where it was taken: what the refusals below cite.
SAME_ADDRESS = "Docker restores a swarm only on the address its Raft store names (docker/docs#7931, moby/swarmkit#642)"


def restore_target(settings: Settings, record: Record, wanted: str | None = None) -> NodeSpec:
    """The manager the backup was taken on: its Raft store names that manager's address, and the
    other managers learn the leader's address from it, so it is restored there (or on a fresh host
    given that name and address in the config).  WANTED (NODE=): the manager the operator chose,
    which must be that one."""
    if wanted is not None and wanted != record.taken_on:
        why = f"{SAME_ADDRESS}; restore an archive taken on {wanted} (make restore NODE={wanted} takes the newest)"
        raise BackupError(f"the backup was taken on {record.taken_on}, not on {wanted}: {why}")
    spec = next((m for m in settings.managers if m.name == record.taken_on), None)
    if spec is None:
        raise BackupError(f"the backup was taken on {record.taken_on!r}, which is not a manager of this stack: restore it where a manager of that name has its address")
    entry = next((n for n in record.inventory.nodes if n.name == spec.name), None)
    if entry is not None and entry.addr != spec.swarm_address:
        raise BackupError(f"{spec.name} had the swarm address {entry.addr} in the backup, the stack gives it {spec.swarm_address}: {SAME_ADDRESS}")
    return spec


def chosen_archive(stack: Stack, archive: str | None, node: str | None, folder_override: str | None) -> Path:
    """The archive to restore or check: ARCHIVE, or with NODE alone the newest one in the folder
    taken on it."""
    if archive is None:
        if node is None:
            raise BackupError("restore needs an archive (BACKUP=) or a manager (NODE=), whose newest archive it takes")
        chosen = newest_taken_on(stack.folder(folder_override), stack.name(), node)
        say(f"the newest archive taken on {node}: {chosen}")
        return chosen
    path = Path(archive).expanduser()
    if not path.is_file():
        raise BackupError(f"no archive {path}")
    return path


def run_restore(stack: Stack, archive: Path, force: bool, wanted: str | None = None) -> str:
    start = time.monotonic()
    data = decrypt(stack.backup_key(make=False), archive)
    record = record_of(data)
    node = restore_target(stack.settings, record, wanted)
    first = stack.settings.managers[0]
    nodes = len(record.inventory.nodes)
    autolock = "on" if record.autolock else "off"
    say(f"restoring the backup of {record.time} ({nodes} nodes, autolock {autolock}) on {node.name} ({node.ssh_address}), where it was taken")
    if record.unlock_key:
        # Docker unlocks a restored manager only once its Raft has a leader, which a backup of
        # several managers cannot have before --force-new-cluster (moby/moby#36852): the node key
        # goes in unlocked; the running swarm locks it again with the cluster's key.
        try:
            data = unlocked_archive(data, record.unlock_key)
        except UnlockError as error:
            raise BackupError(str(error)) from None
        say("autolock: the backup's node key is unlocked with its recorded unlock key before it goes in place")
    key_line = (record.unlock_key or "-").encode() + b"\n"
    argv = stack.ssh(node, "swarm-restore.sh", node.swarm_address, node.name, *(["--force"] if force else []), as_root=True)
    _ran(subprocess.run(argv, input=key_line + data, check=False), node, "swarm-restore.sh")
    if node != first:
        # The program drives the swarm from the first manager: it joins the restored swarm now.
        res = subprocess.run(stack.ssh(node, "swarm-tokens.sh"), capture_output=True, text=True, check=False)
        _ran(res, node, "swarm-tokens.sh")
        token = json.loads(res.stdout)["manager"]
        say(f"joining the first manager, {first.name}, to the restored swarm")
        join = stack.ssh(first, "swarm-join.sh", "manager", node.swarm_address, first.swarm_address)
        _ran(subprocess.run(join, input=token + "\n", stdout=subprocess.DEVNULL, text=True, check=False), first, "swarm-join.sh")
    generation = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stack.record_restored(generation, node.name)
    say(f"restored on {node.name} in {time.monotonic() - start:.1f}s; recorded swarm.restored={generation}, swarm.restoredOn={node.name}")
    say("next: `make up` (pulumi up) joins every other node again; then `make verify BACKUP=...` compares with the backup")
    return generation


def run_pull(stack: Stack, folder_override: str | None, keep_override: int | None) -> list[Path]:
    """Copy the scheduled archives (backup.schedule) of every reachable manager that are not here yet."""
    settings = stack.settings
    if settings.backup.schedule is None:
        say("backup.schedule is not set: the managers keep no archives of their own (looking anyway)")
    folder = stack.folder(folder_override)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    node_dir, name = settings.backup.node_dir, stack.name()
    pulled: list[Path] = []
    reached = 0
    for spec in settings.managers:
        res = subprocess.run(stack.ssh(spec, "backup-archives.sh", "list", node_dir, name, as_root=True), capture_output=True, text=True, check=False)
        if res.returncode != 0:
            say(f"{spec.name}: cannot list its archives ({'unreachable over SSH' if res.returncode == SSH_UNREACHABLE else res.stderr.strip()})")
            continue
        reached += 1
        names = [line for line in res.stdout.splitlines() if line.endswith(ARCHIVE_SUFFIX)]
        new = [n for n in names if not (folder / n).exists()]
        say(f"{spec.name}: {len(names)} archive(s) in {node_dir}, {len(new)} new")
        for archive in new:
            final = folder / archive
            part = final.with_name(final.name + ".part")
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    copied = subprocess.run(stack.ssh(spec, "backup-archives.sh", "cat", node_dir, archive, as_root=True), stdout=out, check=False)
                _ran(copied, spec, f"backup-archives.sh cat {archive}")
                if not part.read_bytes().startswith(b"age-encryption.org/v1"):
                    raise BackupError(f"{spec.name}:{node_dir}/{archive} is not an age file")
                os.replace(part, final)
            finally:
                part.unlink(missing_ok=True)
            pulled.append(final)
    if not reached:
        raise BackupError("no manager could be asked for its archives")
    keep = keep_override or settings.backup.keep
    gone = prune(folder, name, keep)
    say(f"pulled {len(pulled)} archive(s) into {folder}; keeping the last {keep}" + (f", removed {len(gone)} older" if gone else ""))
    for path in pulled:
        print(path)
    return pulled


def run_check(stack: Stack, archive: Path) -> int:
    record = record_of(decrypt(stack.backup_key(make=False), archive))
    first = stack.settings.managers[0]
    res = subprocess.run(stack.ssh(first, "swarm-inventory.sh"), capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
    _ran(res, first, "swarm-inventory.sh")
    rows = compare(record, parse_inventory(res.stdout.splitlines()))
    print(table(rows))
    return 0 if all(r.result == "OK" for r in rows) else 1


def arguments() -> argparse.ArgumentParser:
    """The command line: each command and what it takes."""
    parser = argparse.ArgumentParser(prog="python -m tools.backup", description="Back up and restore an ha-swarm stack's swarm.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("backup", "pull", "restore", "check"):
        p = sub.add_parser(name)
        p.add_argument("--stack", help="the Pulumi stack (default: the selected one)")
        p.add_argument("--cwd", help="the folder of Pulumi.yaml (default: the current one)")
        if name in ("backup", "pull", "restore"):
            p.add_argument("--dir", help="where the archives are (default: backup.dir, else $HA_SWARM_CACHE/backups/<stack>)")
        if name in ("backup", "pull"):
            p.add_argument("--keep", type=int, help="keep the last N archives (default: backup.keep, else 7)")
        if name == "check":
            p.add_argument("archive", help=f"an archive of make backup (*{ARCHIVE_SUFFIX})")
        if name == "backup":
            p.add_argument("--node", help="the manager to back up on, not the leader (default: the first reachable one that is not)")
        if name == "restore":
            p.add_argument("archive", nargs="?", help=f"an archive of make backup (*{ARCHIVE_SUFFIX}); without it, the newest taken on --node")
            p.add_argument("--node", help="the manager to restore on: an archive taken there (by default the newest in --dir)")
            p.add_argument("--force", action="store_true", help="restore even on a manager of a working swarm")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    try:
        if args.command in ("backup", "pull") and args.keep is not None and args.keep < 1:
            raise BackupError(f"--keep {args.keep} is refused: keep at least 1 archive")
        stack = Stack(args.stack, args.cwd)
        if args.command == "backup":
            run_backup(stack, args.dir, args.keep, args.node)
            return 0
        if args.command == "pull":
            run_pull(stack, args.dir, args.keep)
            return 0
        if args.command == "restore":
            run_restore(stack, chosen_archive(stack, args.archive, args.node, args.dir), args.force, args.node)
            return 0
        return run_check(stack, chosen_archive(stack, args.archive, None, None))
    except (BackupError, VerifyError, SettingsError) as error:
        say(str(error))
        return 2


if __name__ == "__main__":
    sys.exit(main())
