"""Issue 19, the scheduled backup's node scripts where no daemon is needed: what they refuse before
touching anything, the archives' listing and copy for `make backup-pull`, and the job's settings
file checked before the job asks Docker anything.  (The timer's install and the job itself run on
the e2e test hosts: tests/e2e/test_backup.py.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ha_swarm.day2.backup_schedule import JOB_FILES

SCRIPTS = Path(__file__).resolve().parents[2] / "ha_swarm" / "nodes" / "scripts"
# The install and the job run as root (they refuse otherwise).
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="the script runs as root")
RECIPIENT = "age1yzex8z2zthprd8a40ewkgyjv9rjyv6dansjpasgnxn7z6dzgdfgqgsaptu"


def run(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPTS / script), *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=30)


GOOD = ("dev", "daily", RECIPIENT, "7", "/var/backups/ha-swarm")
BAD_INSTALLS = [
    ((GOOD[0] + ";id", *GOOD[1:]), "not a stack name"),
    ((GOOD[0], "daily\n", *GOOD[2:]), "not a calendar expression"),
    ((GOOD[0], "$(id)", *GOOD[2:]), "not a calendar expression"),
    ((*GOOD[:2], "age1short", *GOOD[3:]), "not an age recipient"),
    ((*GOOD[:3], "0", GOOD[4]), "not a whole number"),
    ((*GOOD[:4], "relative"), "not an absolute folder path"),
    ((*GOOD[:4], "/var/../etc"), "not an absolute folder path"),
    ((*GOOD[:4], "/var/backups\n"), "not an absolute folder path"),
]


@AS_ROOT
@pytest.mark.parametrize(("args", "message"), BAD_INSTALLS)
def test_the_install_refuses_a_bad_argument_before_it_writes_anything(args: tuple[str, ...], message: str) -> None:
    res = run("backup-schedule.sh", "install", *args)
    assert res.returncode == 1 and message in res.stderr, res.stderr


def test_the_archives_listing_is_the_stacks_archives_oldest_first_and_cat_gives_their_bytes(tmp_path: Path) -> None:
    names = ["dev-20261204T030000Z-m2.swarm.age", "dev-20261203T030000Z-m2.swarm.age", "other-20261204T030000Z-m2.swarm.age", "dev-notes.txt"]
    for name in names:
        (tmp_path / name).write_bytes(b"age-encryption.org/v1\n" + name.encode())
    listed = run("backup-archives.sh", "list", str(tmp_path), "dev")
    assert listed.returncode == 0 and listed.stdout.split() == ["dev-20261203T030000Z-m2.swarm.age", "dev-20261204T030000Z-m2.swarm.age"]
    copied = subprocess.run(["bash", str(SCRIPTS / "backup-archives.sh"), "cat", str(tmp_path), names[0]], capture_output=True, check=False)
    assert copied.returncode == 0 and copied.stdout == (tmp_path / names[0]).read_bytes()
    assert run("backup-archives.sh", "list", str(tmp_path / "none"), "dev").stdout == ""


@pytest.mark.parametrize("name", ["../etc/shadow", "dev-x.swarm.age/../../etc/shadow", "notes.txt", "dev-x.swarm.age\n"])
def test_cat_refuses_anything_but_an_archive_name(tmp_path: Path, name: str) -> None:
    res = run("backup-archives.sh", "cat", str(tmp_path), name)
    assert res.returncode == 1 and "not an archive name" in res.stderr, res.stderr


@AS_ROOT
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("STACK=dev;id\nRECIPIENT={r}\nKEEP=7\nARCHIVES=/tmp/x\n", "STACK is not a stack name"),
        ("STACK=dev\nRECIPIENT=age1nope\nKEEP=7\nARCHIVES=/tmp/x\n", "RECIPIENT is not an age recipient"),
        ("STACK=dev\nRECIPIENT={r}\nKEEP=none\nARCHIVES=/tmp/x\n", "KEEP is not a whole number"),
        ("STACK=dev\nRECIPIENT={r}\nKEEP=7\nARCHIVES=tmp\n", "ARCHIVES is not an absolute folder path"),
        ("STACK=dev\nRECIPIENT={r}\nKEEP=7\nARCHIVES=/tmp/x\nEVIL=1\n", "unknown setting EVIL"),
    ],
)
def test_the_job_refuses_a_bad_settings_file_before_it_asks_docker_anything(tmp_path: Path, env: str, message: str) -> None:
    for name in JOB_FILES:
        shutil.copy(SCRIPTS / name, tmp_path / name)
    (tmp_path / "job.env").write_text(env.format(r=RECIPIENT))
    res = subprocess.run(["bash", str(tmp_path / "backup-job.sh")], capture_output=True, text=True, check=False, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 1 and message in res.stderr, res.stderr


FAKE_DOCKER = r"""#!/bin/bash
printf '%s\n' "$*" >>"$FAKE/calls"
case "$1 $2" in
    "info --format")
        case "$3" in
            *LocalNodeState*) echo active ;;
            *NodeID*) echo id3 ;;
            *ControlAvailable*) echo true ;;
        esac ;;
    "node ls") printf 'id1\nid2\nid3\n' ;;
    "node inspect")
        # m2's mark of a backup under way ($STARTED), when the job asks for it by that label's name.
        started=-
        case "$*" in *'"ha-swarm-backup.started"'*) started=${STARTED:--} ;; esac
        printf 'id1 m1 reachable true - -\nid2 m2 reachable false %s 100\nid3 m3 reachable false - -\n' "$started" ;;
    "node update")
        # The node's status changed under the label change, once for each label change.
        if [ ! -e "$FAKE/raced-$3" ]; then
            touch "$FAKE/raced-$3"
            echo "Error response from daemon: rpc error: code = Unknown desc = update out of sequence" >&2
            exit 1
        fi ;;
esac
"""


def run_the_job(tmp_path: Path, started: str = "") -> tuple[subprocess.CompletedProcess[str], list[str], Path]:
    """backup-job.sh from its own files as installed, with Docker and age stood in for, on m3 of
    three managers (m1 the leader, m2 backed up long ago, m3 never); STARTED: m2's mark of a backup
    under way. The job's run, the `docker node update`s it made, and the archives' folder."""
    job, fake, archives = tmp_path / "job", tmp_path / "fake", tmp_path / "archives"
    for folder in (job, fake / "bin"):
        folder.mkdir(parents=True)
    for name in JOB_FILES:
        shutil.copy(SCRIPTS / name, job / name)
    (job / "swarm-backup.sh").write_text("printf 'the swarm folder'\n")
    (job / "job.env").write_text(f"STACK=dev\nRECIPIENT={RECIPIENT}\nKEEP=7\nARCHIVES={archives}\n")
    for name, text in (("docker", FAKE_DOCKER), ("age", "#!/bin/bash\nprintf 'age-encryption.org/v1\\n'; cat\n")):
        (fake / "bin" / name).write_text(text)
        (fake / "bin" / name).chmod(0o755)
    env = {"PATH": f"{fake / 'bin'}:/usr/bin:/bin", "FAKE": str(fake), "STARTED": started}
    res = subprocess.run(["bash", str(job / "backup-job.sh")], capture_output=True, text=True, check=False, timeout=60, env=env)
    calls = (fake / "calls").read_text().splitlines() if (fake / "calls").exists() else []
    return res, [line for line in calls if line.startswith("node update")], archives


@AS_ROOT
def test_the_jobs_backing_up_mark_is_set_and_removed_even_when_the_node_changes_meanwhile(tmp_path: Path) -> None:
    """The job marks its manager (ha-swarm-backup.started, outside the ha-swarm. labels that node-settle.sh
    removes when not asked for) while it backs up and removes the mark
    after; the daemon's restart changes the node object at that moment, and Docker refuses a label
    change made on the older version ("update out of sequence"): the job tries it again rather than
    leaving the mark, which holds the other managers' timers off for 15 minutes. (Docker is a
    stand-in here; the backup itself runs on the e2e test hosts.)"""
    res, updates, archives = run_the_job(tmp_path)
    assert res.returncode == 0 and " wrote " in res.stderr, res.stderr
    assert "could not remove" not in res.stderr, res.stderr
    assert [u.split()[2] for u in updates] == ["--label-add", "--label-add", "--label-rm", "--label-rm"], updates
    assert updates[0].startswith("node update --label-add ha-swarm-backup.started=") and updates[-1] == "node update --label-rm ha-swarm-backup.started -- id3"
    (archive,) = archives.iterdir()
    assert archive.name.startswith("dev-") and archive.name.endswith("-m3.swarm.age") and archive.read_bytes() == b"age-encryption.org/v1\nthe swarm folder"


@AS_ROOT
@pytest.mark.parametrize(("age", "held"), [(10, True), (901, False)])
def test_the_job_backs_up_nowhere_while_another_managers_backup_is_under_way(tmp_path: Path, age: int, held: bool) -> None:
    """m2 marked a backup under way 10 s ago (ha-swarm-backup.started): m3's job, although m3 is the
    one to back up, does nothing; a mark older than the 15 minutes is ignored."""
    res, updates, archives = run_the_job(tmp_path, str(int(time.time()) - age))
    assert res.returncode == 0, res.stderr
    if held:
        assert re.search(r"m2 started a backup 1[01]s ago: nothing to do", res.stderr), res.stderr
        assert updates == [] and not archives.exists()
    else:
        assert " wrote " in res.stderr and len(list(archives.iterdir())) == 1, res.stderr
