"""Issue 19: back up and restore the swarm, a rehearsed disaster-recovery drill.  One stack through
it, in file order: up with 3 managers and 2 workers, the demo and a service with a secret and a
config; a backup refused while a manager's daemon is down (quorum); a backup; the disaster (every
manager's daemon stopped and its swarm folder deleted); `make restore`; `pulumi up`; the swarm back
with 3 + 2, every service running, Traefik routing, the secret and the config the backup's own,
verify green, the restore check green, a no-change preview.

The compose translation does not take top-level `secrets:`/`configs:` yet (ha_swarm/apps/compose/
translate.py, NOT_YET_TOP_LEVEL): the secret, the config and the service that uses them are made
with the docker CLI on the swarm, which is where a restore has to bring them back from anyway."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pulumi import automation as auto

from ha_swarm.day2.backup import new_identity
from tests.e2e.deployment import PREFIX, Deployment, changes, routed
from tests.e2e.test_lifecycle import verify_rows
from tests.support.cluster import wait_for
from tests.support.hosts.common import SYSTEM_PATH
from tests.support.hosts.service import STUB_BIN, enabled_units, install_docker_service, install_systemctl_stub

SERVICES = {"traefik": 3, "docker-api-proxy": 3, "demo_whoami0": 2, "demo_whoami1": 2, "app": 2}
SECRET_VALUE = "s3cret-for-the-drill"
# backup.schedule's folder on the managers: under /root, which is each test host's own.
NODE_DIR = "/root/ha-swarm-backups"
FIGURES: dict[str, float] = {}


def tool(dep: Deployment, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`python -m tools.backup ARGS` for the stack, as a user runs it, from the control namespace."""
    argv = ["nsenter", f"--net=/run/netns/{dep.harness.ctl_ns}", sys.executable, "-m", "tools.backup", *args]
    env = {**os.environ, **dep.env_vars()}
    return subprocess.run(argv, cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def common(dep: Deployment) -> list[str]:
    return ["--stack", dep.stack_name, "--cwd", str(dep.work_dir)]


def archives(dep: Deployment) -> list[Path]:
    return sorted((dep.run_dir / "backups").glob("*.swarm.age"))


def ids(dep: Deployment, kind: str) -> dict[str, str]:
    lines = dep.first.docker(kind, "ls", "--format", "{{.Name}} {{.ID}}").splitlines()
    return dict(line.split() for line in lines if line.strip())


def test_up_with_three_managers_two_workers_the_demo_and_a_service_with_a_secret_and_a_config(deployment: Deployment) -> None:
    for host in deployment.harness:
        install_docker_service(host)
    for host in deployment.harness.managers:
        install_systemctl_stub(host)  # backup.schedule installs a systemd timer on every manager
    deployment.workers = ["w1", "w2"]
    deployment.configure()
    stack = deployment.stack
    assert stack is not None
    stack.set_config("ha-swarm:backupKey", auto.ConfigValue(new_identity(), secret=True))
    stack.set_config("ha-swarm:backup", auto.ConfigValue(json.dumps({"schedule": "daily", "nodeDir": NODE_DIR})))
    result = deployment.up("up from nothing (3 managers, 2 workers)")
    assert result.summary.result == "succeeded"
    m1 = deployment.first
    m1.docker("secret", "create", "app_password", "-", stdin=SECRET_VALUE)
    m1.docker("config", "create", "app_config", "-", stdin="greeting=hello\n")
    image, _ = deployment.toolchain.whoami
    m1.docker("service", "create", "--detach", "--name", "app", "--replicas", "2", "--secret", "app_password", "--config", "src=app_config,target=/app.conf", image)
    for service, count in SERVICES.items():
        wait_for(lambda s=service, c=count: len(deployment.running(s)) == c, 120, f"{count} running task(s) of {service}")


def test_a_backup_is_refused_while_a_managers_daemon_is_down(deployment: Deployment) -> None:
    m3 = deployment.harness["m3"]
    m3.stop()
    try:
        wait_for(lambda: {n["Hostname"]: n["ManagerStatus"] for n in deployment.nodes()}[f"{PREFIX}m3"] == "Unreachable", 90, "m3 unreachable")
        res = tool(deployment, "backup", *common(deployment), "--dir", str(deployment.run_dir / "backups"))
        assert res.returncode != 0, res.stdout + res.stderr
        assert f"refusing to back up on manager {PREFIX}m2: Raft quorum would be lost" in res.stderr, res.stderr
        assert not archives(deployment), "an archive was written"
        assert deployment.harness["m2"].info("{{.Swarm.LocalNodeState}}") == "active", "m2's daemon was stopped anyway"
    finally:
        m3.start()
    wait_for(lambda: {n["Hostname"]: n["ManagerStatus"] for n in deployment.nodes()}[f"{PREFIX}m3"] == "Reachable", 120, "m3 reachable again")


def test_make_backup_archives_on_a_manager_that_is_not_the_leader_encrypted(deployment: Deployment) -> None:
    start = time.monotonic()
    res = tool(deployment, "backup", *common(deployment), "--dir", str(deployment.run_dir / "backups"))
    FIGURES["backup"] = time.monotonic() - start
    deployment.times.lines.append(("make backup", FIGURES["backup"]))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"backing up on {PREFIX}m2 (not the leader, {PREFIX}m1" in res.stderr, res.stderr
    (archive,) = archives(deployment)
    assert archive.stat().st_mode & 0o077 == 0, "the archive is readable by others"
    data = archive.read_bytes()
    assert data.startswith(b"age-encryption.org/v1"), "not an age file"
    assert SECRET_VALUE.encode() not in data and b"record.txt" not in data
    for text in (res.stdout, res.stderr):
        assert "AGE-SECRET-KEY" not in text and "SWMKEY" not in text and "SWMTKN" not in text
    wait_for(lambda: all(n["Status"] == "Ready" for n in deployment.nodes()), 120, "every node ready after the backup")


def fire_the_scheduled_job(deployment: Deployment, exec_start: list[str], window: int | None = None) -> list[str]:
    """The job's ExecStart run on every manager at once, as systemd would when the timer fires;
    the names of the managers that wrote an archive. WINDOW: HS_BACKUP_WINDOW, the seconds after a
    backup during which the job makes no other (900 when None)."""
    managers = deployment.harness.managers
    env = {**managers[0].env, "PATH": f"{STUB_BIN}:{SYSTEM_PATH}", **({"HS_BACKUP_WINDOW": str(window)} if window is not None else {})}
    with ThreadPoolExecutor(len(managers)) as pool:
        runs = list(pool.map(lambda h: h.exec(exec_start, env=env, timeout=600), managers))
    for host, run in zip(managers, runs, strict=True):
        assert run.returncode == 0, f"{host.name}: {run.stdout}{run.stderr}"
        assert "could not remove the label" not in run.stderr, f"{host.name}: {run.stderr}"
    wrote = [h.name for h, run in zip(managers, runs, strict=True) if " wrote " in run.stderr]
    assert len(wrote) <= 1, [(h.name, r.stderr[-400:]) for h, r in zip(managers, runs, strict=True)]
    wait_for(lambda: all(n["Status"] == "Ready" for n in deployment.nodes()), 120, "every node ready after the scheduled backup")
    return wrote


def test_the_scheduled_job_fired_on_every_manager_at_once_backs_up_on_one_in_turn_and_backup_pull_copies_it(deployment: Deployment) -> None:
    """backup.schedule: each manager has the timer; when it fires, one manager backs up: of the
    reachable ones that are not the leader, the one backed up least recently. `make backup` took
    m2's, so the schedule takes m3 first, then m2: each keeps archives that a restore on it can
    use (the 15 minutes after a backup, in which the job makes no other, shortened to 0 for
    that). Fired again within those 15 minutes, nobody backs up. `make backup-pull` brings the
    archives here."""
    managers = deployment.harness.managers
    units = [(h, h.dir / "etc" / "systemd" / "system") for h in managers]
    for host, folder in units:
        assert "ha-swarm-backup.timer" in enabled_units(host), host.name
        assert "OnCalendar=daily" in (folder / "ha-swarm-backup.timer").read_text()
    service = (units[0][1] / "ha-swarm-backup.service").read_text()
    exec_start = shlex.split(next(line.split("=", 1)[1] for line in service.splitlines() if line.startswith("ExecStart=")))
    start = time.monotonic()
    first = fire_the_scheduled_job(deployment, exec_start, window=0)
    FIGURES["scheduled backup"] = time.monotonic() - start
    deployment.times.lines.append(("scheduled backup (the job on every manager at once)", FIGURES["scheduled backup"]))
    assert first == ["m3"], "the manager never backed up goes first (make backup took m2's)"
    assert fire_the_scheduled_job(deployment, exec_start, window=0) == ["m2"], "then the one backed up least recently"
    assert fire_the_scheduled_job(deployment, exec_start) == [], "a second archive within 15 minutes of the last"
    on_nodes = {h.name: sorted((h.dir / "root" / Path(NODE_DIR).name).glob("*.swarm.age")) for h in managers}
    assert [len(on_nodes[n]) for n in ("m1", "m2", "m3")] == [0, 1, 1], on_nodes
    for scheduled in (*on_nodes["m2"], *on_nodes["m3"]):
        assert scheduled.stat().st_mode & 0o077 == 0, "the archive is readable by others"
        data = scheduled.read_bytes()
        assert data.startswith(b"age-encryption.org/v1") and SECRET_VALUE.encode() not in data
    labels = deployment.first.docker("node", "inspect", "--format", "{{json .Spec.Labels}}", *[n["ID"] for n in deployment.nodes()])
    assert "backup.started" not in labels and "backup-started" not in labels, "the backup's mark stayed"
    res = tool(deployment, "pull", *common(deployment), "--dir", str(deployment.run_dir / "backups"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert [p.name for p in archives(deployment)][-2:] == [on_nodes["m3"][0].name, on_nodes["m2"][0].name], "the pulled archives are the newest"
    assert len(archives(deployment)) == 3
    again = tool(deployment, "pull", *common(deployment), "--dir", str(deployment.run_dir / "backups"))
    assert again.returncode == 0 and "pulled 0 archive(s)" in again.stderr, again.stderr


def test_disaster_every_managers_daemon_stopped_and_its_swarm_folder_deleted(deployment: Deployment) -> None:
    FIGURES["ids"] = 0.0
    deployment.backup_ids = {kind: ids(deployment, kind) for kind in ("secret", "config", "service")}  # type: ignore[attr-defined]
    for host in deployment.harness.managers:
        host.stop()
    for host in deployment.harness.managers:
        host.exec(["rm", "-rf", str(host.dir / "docker" / "swarm")], check=True)
        host.start()
        assert host.info("{{.Swarm.LocalNodeState}}") == "inactive"


def test_make_restore_on_the_manager_chosen_then_pulumi_up_brings_the_swarm_back_serving(deployment: Deployment) -> None:
    """`make restore NODE=m3`: the newest archive taken on m3 (the scheduled one, pulled; not the
    newest of all, which is m2's), restored on m3."""
    start = time.monotonic()
    res = tool(deployment, "restore", "--node", f"{PREFIX}m3", "--dir", str(deployment.run_dir / "backups"), *common(deployment))
    FIGURES["restore"] = time.monotonic() - start
    assert res.returncode == 0, res.stdout + res.stderr
    m3_archive = next(p for p in archives(deployment) if p.name.endswith(f"-{PREFIX}m3.swarm.age"))
    assert f"the newest archive taken on {PREFIX}m3: {m3_archive}" in res.stderr, res.stderr
    assert f"on {PREFIX}m3 (" in res.stderr, res.stderr
    assert "SWMKEY" not in res.stderr + res.stdout and "SWMTKN" not in res.stderr + res.stdout
    result = deployment.up("pulumi up after the restore")
    assert result.summary.result == "succeeded"
    nodes = deployment.nodes()
    assert sorted(n["Hostname"] for n in nodes) == [f"{PREFIX}{n}" for n in ("m1", "m2", "m3", "w1", "w2")], nodes
    assert all(n["Status"] == "Ready" and n["Availability"] == "Active" for n in nodes), nodes
    assert sorted(n["ManagerStatus"] for n in nodes) == ["", "", "Leader", "Reachable", "Reachable"], nodes
    for service, count in SERVICES.items():
        deployment.wait_running(service, count, 180)
    for host in deployment.harness.managers:
        wait_for(lambda a=host.address: routed(deployment.curl, a, "whoami0", 2), 120, f"Traefik on {host.address} to route whoami0")
    FIGURES["restore-to-serving"] = time.monotonic() - start
    deployment.times.lines.append(("make restore", FIGURES["restore"]))
    deployment.times.lines.append(("restore to serving (restore, up, routed)", FIGURES["restore-to-serving"]))
    before = deployment.backup_ids  # type: ignore[attr-defined]
    assert {kind: ids(deployment, kind) for kind in ("secret", "config", "service")} == before


def test_verify_and_the_restore_check_are_green_and_a_second_up_changes_nothing(deployment: Deployment) -> None:
    res = deployment.verify()
    assert res.returncode == 0, res.stdout + res.stderr
    assert set(verify_rows(res.stdout).values()) == {"OK"}
    archive = next(p for p in archives(deployment) if p.name.endswith(f"-{PREFIX}m3.swarm.age"))  # the one restored
    check = tool(deployment, "check", str(archive), *common(deployment))
    assert check.returncode == 0, check.stdout + check.stderr
    assert re.search(r"restore check: (\d+) of \1 as in the backup", check.stdout), check.stdout
    for name in ("app_password", "app_config", "app", "traefik-net"):
        assert re.search(rf"restored-\w+\s+{name}\s+OK\s+ID", check.stdout), check.stdout
    preview = deployment.preview("preview after the restore", expect_no_changes=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-3000:]
    deployment.echo_figures = ", ".join(f"{k} {v:.1f}s" for k, v in FIGURES.items() if k != "ids")  # type: ignore[attr-defined]
    print(f"[e2e] figures: {deployment.echo_figures}")  # type: ignore[attr-defined]
