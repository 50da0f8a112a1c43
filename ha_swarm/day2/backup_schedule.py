"""`backup.schedule`: the swarm backs itself up on a schedule (issue 19), on one manager at a time.

Per manager, one remote command (`<node>-backup-schedule`, as root): backup-schedule.sh install
puts the job in `backup.nodeDir`/job (its files travel on stdin, a tar in base64 of backup-job.sh
and the scripts it runs) and a systemd timer at `backup.schedule`; on delete (the setting removed,
or a manager leaving the stack) backup-schedule.sh remove takes the timer and the job away and
leaves the archives.  Every manager's timer fires; the job backs up on one of them, the first by
name of the reachable managers that are not the leader, with the quorum check of `make backup`
(backup-job.sh).  The archive is encrypted on the manager with age to the public recipient of the
stack's secret `backupKey`, so a manager never holds the key that opens it; `make backup-pull`
copies the managers' archives to the operator's machine, where `make restore` takes them.
"""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import pulumi

from ha_swarm.nodes.node import Node
from ha_swarm.nodes.remote import Step, run_script, script_text

# What the job runs, in the job's folder on every manager (backup-job.sh sources the two libraries).
JOB_FILES = ("backup-job.sh", "lib.sh", "backup-lib.sh", "swarm-backup.sh")


@cache
def job_bundle() -> str:
    """The job's files as backup-schedule.sh reads them on stdin: a tar in base64, byte for byte the
    same for the same scripts (no times, owners or modes of this machine), so it changes only when
    a script does."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in JOB_FILES:
            data = script_text(name).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o700, 0
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(buffer.getvalue()).decode() + "\n"


@dataclass(frozen=True, kw_only=True)
class BackupScheduleArgs:
    managers: Sequence[Node]
    stack: str  # the archives' names begin with it, as `make backup`'s do
    schedule: str  # backup.schedule, a systemd calendar expression
    recipient: str  # backupKey's public recipient (age1...)
    keep: int  # backup.keep: the last N archives kept on each manager
    node_dir: str  # backup.nodeDir
    depends_on: Sequence[pulumi.Resource]  # the managers in the swarm


class BackupSchedule(pulumi.ComponentResource):
    def __init__(self, name: str, args: BackupScheduleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:day2:BackupSchedule", name, None, opts)
        install = ("install", args.stack, args.schedule, args.recipient, str(args.keep), args.node_dir)
        self.timers = [
            run_script(
                f"{node.name}-backup-schedule",
                node.connection,
                Step("backup-schedule.sh", install, as_root=node.user != "root"),
                delete=Step("backup-schedule.sh", ("remove", args.node_dir), as_root=node.user != "root"),
                stdin=job_bundle(),
                parent=self,
                depends_on=[*args.depends_on, node.ready],
                triggers=list(node.triggers) or None,
                # A new schedule or folder: the old timer goes before the new one is installed.
                delete_before_replace=True,
            )
            for node in args.managers
        ]
        self.register_outputs({"schedule": args.schedule, "managers": [n.name for n in args.managers]})
