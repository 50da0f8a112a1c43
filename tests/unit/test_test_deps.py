"""tools/test-deps.sh against stand-ins for dpkg-query, dpkg, apt-get (and rpm, dnf) on PATH.

The stand-ins keep each package's dpkg state in a file (``state/<package>``; no file: installed,
"ii"), record every call with whether the policy-rc.d was in place, and change the state as the
real tools would: ``dpkg --configure -a`` finishes unpacked and half-configured packages (not
half-installed ones), ``apt-get install`` leaves its packages installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "test-deps.sh"

DPKG_QUERY = r"""#!/bin/sh
echo "dpkg-query $*" >>"$STUB/calls"
for pkg; do :; done
s=ii
[ ! -f "$STUB/state/$pkg" ] || read -r s <"$STUB/state/$pkg"
if [ "$s" = none ]; then echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; fi
printf '%s ' "$s"
"""

DPKG = r"""#!/bin/sh
echo "dpkg $*" >>"$STUB/calls"
[ "$*" = "--configure -a" ] || exit 2
for f in "$STUB"/state/*; do
    [ -f "$f" ] || continue
    read -r s <"$f"
    case $s in iU|iF|iW|it) echo ii >"$f" ;; esac
done
"""

APT_GET = r"""#!/bin/sh
p=absent; [ ! -e "$HS_TEST_DEPS_POLICY" ] || p=present
echo "apt-get $* [policy-rc.d $p, $DEBIAN_FRONTEND]" >>"$STUB/calls"
[ "$1" = install ] || exit 0
for a; do case $a in -*|install) ;; *) echo ii >"$STUB/state/$a" ;; esac; done
"""

RPM = r"""#!/bin/sh
echo "rpm $*" >>"$STUB/calls"
for pkg; do :; done
[ ! -f "$STUB/state/$pkg" ]
"""

DNF = r"""#!/bin/sh
echo "dnf $*" >>"$STUB/calls"
"""


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    calls: list[str]

    def of(self, tool: str) -> list[str]:
        return [c for c in self.calls if c.split()[0] == tool]


class Machine:
    """A fake bin directory with the stand-ins, the few real tools the script uses, and a package state."""

    def __init__(self, root: Path, tools: dict[str, str]) -> None:
        self.root = root
        self.bin = root / "bin"
        self.state = root / "state"
        self.policy = root / "policy-rc.d"
        self.bin.mkdir()
        self.state.mkdir()
        for name, text in tools.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        for name in ("bash", "chmod", "rm"):
            (self.bin / name).symlink_to(shutil.which(name))

    def set(self, package: str, state: str) -> None:
        (self.state / package).write_text(state + "\n")

    def get(self, package: str) -> str:
        f = self.state / package
        return f.read_text().strip() if f.exists() else "ii"

    def run(self, uid: int = 0) -> Run:
        calls = self.root / "calls"
        calls.unlink(missing_ok=True)
        env = {
            "PATH": str(self.bin),  # no other tools: no `go` on PATH either
            "STUB": str(self.root),
            "HS_TEST_DEPS_UID": str(uid),
            "HS_TEST_DEPS_POLICY": str(self.policy),
        }
        res = subprocess.run([str(self.bin / "bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)
        return Run(res.returncode, res.stdout, res.stderr, calls.read_text().splitlines() if calls.exists() else [])


@pytest.fixture
def debian(tmp_path: Path) -> Machine:
    return Machine(tmp_path, {"dpkg-query": DPKG_QUERY, "dpkg": DPKG, "apt-get": APT_GET})


@pytest.fixture
def fedora(tmp_path: Path) -> Machine:
    return Machine(tmp_path, {"rpm": RPM, "dnf": DNF})


def test_everything_installed_runs_nothing_and_says_nothing(debian: Machine):
    res = debian.run()
    assert (res.rc, res.stdout, res.stderr) == (0, "", "")
    assert res.calls and all(c.startswith("dpkg-query -W -f=${db:Status-Abbrev} ") for c in res.calls)
    queried = {c.split()[-1] for c in res.calls}
    assert {"docker.io", "openssh-server", "shellcheck", "genisoimage", "sudo"} <= queried
    assert not debian.policy.exists()


def test_a_missing_package_is_installed_under_a_policy_rc_d_then_a_second_run_installs_nothing(debian: Machine):
    debian.set("genisoimage", "none")
    debian.set("openssh-server", "rc")  # removed, its configuration files left: not installed
    res = debian.run()
    assert res.rc == 0, res.stderr
    assert res.of("apt-get") == [
        "apt-get update -q [policy-rc.d present, noninteractive]",
        "apt-get install -y -q --no-install-recommends openssh-server genisoimage [policy-rc.d present, noninteractive]",
    ]
    assert res.of("dpkg") == []
    assert debian.get("genisoimage") == debian.get("openssh-server") == "ii"
    assert not debian.policy.exists(), "the temporary policy-rc.d is removed"
    again = debian.run()
    assert (again.rc, again.stderr) == (0, "")
    assert again.of("apt-get") == again.of("dpkg") == []


def test_an_existing_policy_rc_d_is_kept(debian: Machine):
    debian.policy.write_text("#!/bin/sh\nexit 101\n")
    debian.set("curl", "none")
    assert debian.run().rc == 0
    assert debian.policy.exists()


@pytest.mark.parametrize("state", ["iU", "iF", "iW"])
def test_an_unpacked_or_half_configured_package_is_configured_not_taken_as_installed(debian: Machine, state: str):
    # openssh-server unpacked, its post-install (the sshd user) never run: the binary is there, the package is not.
    debian.set("openssh-server", state)
    res = debian.run()
    assert res.rc == 0, res.stderr
    assert res.of("dpkg") == ["dpkg --configure -a"]
    assert f"openssh-server({state})" in res.stderr
    assert res.of("apt-get") == [], "configuring was enough: nothing to download"
    assert debian.get("openssh-server") == "ii"


@pytest.mark.parametrize("state", ["iH", "iiR"])
def test_a_half_installed_package_is_reinstalled(debian: Machine, state: str):
    debian.set("openssh-server", state)
    debian.set("docker.io", "iF")
    res = debian.run()
    assert res.rc == 0, res.stderr
    assert res.of("dpkg") == ["dpkg --configure -a"]
    assert res.of("apt-get") == [
        "apt-get update -q [policy-rc.d present, noninteractive]",
        "apt-get install -y -q --no-install-recommends --reinstall openssh-server [policy-rc.d present, noninteractive]",
    ]
    assert debian.get("openssh-server") == debian.get("docker.io") == "ii"


def test_a_held_package_counts_as_installed(debian: Machine):
    debian.set("docker.io", "hi")
    res = debian.run()
    assert (res.rc, res.stderr, res.of("apt-get"), res.of("dpkg")) == (0, "", [], [])


def test_not_root_prints_one_line_of_advice_and_runs_nothing(debian: Machine):
    debian.set("genisoimage", "none")
    debian.set("openssh-server", "iU")
    res = debian.run(uid=1000)
    assert res.rc != 0
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert "missing: genisoimage" in lines[0]
    assert "not fully installed: openssh-server(iU)" in lines[0]
    assert "run as root: sudo " in lines[0] and lines[0].endswith("test-deps.sh")
    assert res.of("apt-get") == res.of("dpkg") == []
    assert not debian.policy.exists()
    assert debian.get("openssh-server") == "iU"


def test_not_root_with_everything_installed_passes(debian: Machine):
    res = debian.run(uid=1000)
    assert (res.rc, res.stderr) == (0, "")


def test_go_is_not_installed_from_the_distribution(debian: Machine):
    # Its Go is too old for toolchain/*/go.mod; toolchain/ensure_go.py fetches one (tests/unit/test_ensure_go.py).
    debian.set("golang-go", "none")
    res = debian.run()
    assert (res.rc, res.of("apt-get")) == (0, [])
    assert not any("golang" in c for c in res.calls)


def test_go_is_not_installed_from_the_distribution_with_dnf_either(fedora: Machine):
    fedora.set("golang", "none")
    res = fedora.run()
    assert (res.rc, res.of("dnf")) == (0, [])
    assert not any("golang" in c for c in res.calls)


def test_still_not_installed_after_apt_get_fails(debian: Machine):
    # An apt-get that says it worked but installed nothing.
    (debian.bin / "apt-get").write_text('#!/bin/sh\necho "apt-get $*" >>"$STUB/calls"\n')
    debian.set("genisoimage", "none")
    res = debian.run()
    assert res.rc != 0
    assert "still not installed after apt-get: genisoimage" in res.stderr


def test_dnf_installs_the_equivalents(fedora: Machine):
    for name in ("ShellCheck", "genisoimage"):
        fedora.set(name, "none")
    res = fedora.run()
    assert res.rc == 0, res.stderr
    assert res.of("dnf") == ["dnf install -y ShellCheck genisoimage"]
    assert "rpm -q moby-engine" in res.calls and "rpm -q openssh-clients" in res.calls


def test_dnf_not_root_says_what_to_install(fedora: Machine):
    fedora.set("moby-engine", "none")
    res = fedora.run(uid=1000)
    assert res.rc != 0 and res.of("dnf") == []
    assert res.stderr.strip() == "test-deps: missing: moby-engine; run as root: dnf install -y moby-engine"


def test_script_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.fail("shellcheck not found (tools/test-deps.sh installs it)")
    res = subprocess.run([shellcheck, "-x", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert os.access(SCRIPT, os.X_OK)
