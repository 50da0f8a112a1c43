"""Resolve a lab stack's `auto` settings once, before `pulumi up` (`make up` and `make preview` run it):

    python -m tools.lab_auto STACK

* `lab.domainType: auto` (the default): `kvm` where /dev/kvm is usable (a local hypervisor), else
  `qemu`, software emulation, which is slow (a VM boots in minutes); `kvm` on a remote hypervisor.
* `lab.image: auto` (the default): Debian's genericcloud image when it can be downloaded and the
  public container registry answers (the VMs pull Traefik and whoami from it): downloaded once into
  the cache and checked against Debian's published SHA512SUMS; else the image that
  lab/build-image.sh makes here (Debian with Docker installed, the demo's container images
  preloaded, direct kernel boot), and then the demo runs from those images.

The choice is recorded in the stack's config as `labAuto` (what `auto` stands for in this stack) and
kept: a later run changes nothing, so a later `up` never swaps the VMs' base image because a
network came or went. `pulumi config rm ha-swarm:labAuto` makes the next run choose again. The
program refuses `auto` when `labAuto` is missing (a `pulumi up` run by hand first), saying to run this.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ha_swarm.config.model import AUTO, AUTO_BY_DEFAULT, LabSettings

REPO = Path(__file__).resolve().parent.parent
DEBIAN_IMAGES = os.environ.get("HA_SWARM_DEBIAN_IMAGES", "https://cloud.debian.org/images/cloud/bookworm/latest")
DEBIAN_IMAGE = "debian-12-genericcloud-amd64.qcow2"
REGISTRY = os.environ.get("HA_SWARM_REGISTRY_PROBE", "https://registry-1.docker.io/v2/")
LOCAL_URIS = ("qemu:///system", "qemu:///session")
# What the demo's compose file falls back to when the registry answers.
PUBLIC_VISUALIZER = "dockersamples/visualizer:stable"


def log(line: str) -> None:
    print(f"lab-auto: {line}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    return Path(os.environ.get("HA_SWARM_CACHE", Path.home() / ".cache" / "ha-swarm"))


def answers(url: str, timeout: float = 10) -> bool:
    """Whether anything answers at URL over HTTP(S) (an error status counts: the server is there)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def multiboot_halt_kernel(path: Path) -> Path:
    """A kernel that QEMU boots with -kernel and that only halts: a multiboot header (the a.out
    kludge, loaded at 1 MiB) followed by `cli; hlt; jmp .-1`."""
    magic, flags, base = 0x1BADB002, 0x00010000, 0x100000
    header = struct.pack("<8I", magic, flags, (-(magic + flags)) & 0xFFFFFFFF, base, base, 0, 0, base + 32)
    path.write_bytes((header + b"\xfa\xf4\xeb\xfd").ljust(4096, b"\0"))
    return path


def kvm_usable(device: str = "/dev/kvm", seconds: float = 3) -> bool:
    """Whether a guest runs under KVM here with the CPU the lab gives it (host-passthrough): the
    device alone is not enough (under nested virtualisation /dev/kvm may exist while QEMU aborts on
    the host CPU's registers). A tiny guest that only halts is started; still running after a few
    seconds means yes. Without QEMU installed, the device decides."""
    if not (os.path.exists(device) and os.access(device, os.R_OK | os.W_OK)):
        return False
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        return True
    with tempfile.TemporaryDirectory() as tmp:
        kernel = multiboot_halt_kernel(Path(tmp) / "halt.bin")
        argv = [qemu, "-enable-kvm", "-cpu", "host", "-m", "32", "-kernel", str(kernel), "-display", "none", "-serial", "none", "-monitor", "none"]
        try:
            subprocess.run(argv, capture_output=True, timeout=seconds, check=False)
        except subprocess.TimeoutExpired:
            return True
    return False


@dataclass(frozen=True)
class Probes:
    """What the choices look at, injected so that tests choose what they see."""

    kvm_usable: Callable[[], bool] = kvm_usable
    answers: Callable[[str], bool] = answers


def choose_domain_type(uri: str, probes: Probes) -> tuple[str, str]:
    if uri not in LOCAL_URIS:
        return "kvm", f"kvm: the hypervisor {uri} is remote (set lab.domainType: qemu if it has no KVM)"
    if probes.kvm_usable():
        return "kvm", "kvm: /dev/kvm is usable"
    return "qemu", "qemu: no usable /dev/kvm here, so the VMs run under software emulation, which is slow (minutes per boot)"


def choose_image(probes: Probes) -> tuple[str, str]:
    """'debian' or 'local', and why."""
    image_url = f"{DEBIAN_IMAGES}/{DEBIAN_IMAGE}"
    if not probes.answers(image_url):
        return "local", f"the image built here: {image_url} cannot be downloaded from this machine"
    if not probes.answers(REGISTRY):
        return "local", f"the image built here, with the demo's images in it: the container registry ({REGISTRY}) does not answer, so the VMs could not pull them"
    return "debian", f"Debian's genericcloud image ({image_url}); the VMs pull their container images from the registry"


def sha512_of(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def published_sum(sums: str, name: str) -> str | None:
    for line in sums.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == name:
            return parts[0].lower()
    return None


def download_debian(dest_dir: Path, fetch: Callable[[str], bytes] | None = None, fetch_to: Callable[[str, Path], None] | None = None) -> Path:
    """Debian's image in the cache, downloaded once and checked against SHA512SUMS (a mismatch is refused)."""

    def _fetch(url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=60) as res:
            data: bytes = res.read()
            return data

    def _fetch_to(url: str, path: Path) -> None:
        with urllib.request.urlopen(url, timeout=60) as res, path.open("wb") as out:
            while block := res.read(1 << 20):
                out.write(block)

    fetch, fetch_to = fetch or _fetch, fetch_to or _fetch_to
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / DEBIAN_IMAGE
    want = published_sum(fetch(f"{DEBIAN_IMAGES}/SHA512SUMS").decode(), DEBIAN_IMAGE)
    if want is None:
        raise SystemExit(f"lab-auto: {DEBIAN_IMAGES}/SHA512SUMS lists no {DEBIAN_IMAGE}")
    if dest.exists() and sha512_of(dest) == want:
        log(f"{dest} is there and matches Debian's SHA512SUMS")
        return dest
    part = dest.with_suffix(".part")
    log(f"downloading {DEBIAN_IMAGES}/{DEBIAN_IMAGE} into {dest_dir}")
    fetch_to(f"{DEBIAN_IMAGES}/{DEBIAN_IMAGE}", part)
    got = sha512_of(part)
    if got != want:
        part.unlink()
        raise SystemExit(f"lab-auto: checksum mismatch for {DEBIAN_IMAGE}: SHA512SUMS says {want}, downloaded {got}; nothing kept")
    part.replace(dest)
    return dest


def exported(text: str) -> dict[str, str]:
    """`export NAME=VALUE` lines (values shell-quoted) as a map."""
    out = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export ") :].split("=", 1)
            words = shlex.split(value)
            out[name] = words[0] if words else ""
    return out


def build_local_image() -> dict[str, str]:
    """The toolchain's Traefik and whoami images, then the lab image with them preloaded (both built
    when missing: minutes for the image, the toolchain's images ~10 minutes the first time)."""
    toolchain = subprocess.run([str(REPO / "toolchain" / "build.sh"), "--only", "traefik,whoami,socketproxy"], stdout=subprocess.PIPE, text=True, check=True)
    images = exported(toolchain.stdout)
    tars = [images["HA_SWARM_TRAEFIK_TAR"], images["HA_SWARM_WHOAMI_TAR"], images["HA_SWARM_SOCKET_PROXY_TAR"]]
    built = subprocess.run(
        ["bash", str(REPO / "lab" / "build-image.sh"), "--preload", *tars],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    lab = exported(built.stdout)
    return {
        "image": lab["HA_SWARM_LAB_IMAGE"],
        "kernel": lab["HA_SWARM_LAB_KERNEL"],
        "initrd": lab["HA_SWARM_LAB_INITRD"],
        "kernelArgs": lab["HA_SWARM_LAB_KERNEL_ARGS"],
        "traefikImage": images["HA_SWARM_TRAEFIK_IMAGE"],
        "whoamiImage": images["HA_SWARM_WHOAMI_IMAGE"],
        "socketProxyImage": images["HA_SWARM_SOCKET_PROXY_IMAGE"],
    }


def stale_carried_images(recorded: Mapping[str, Any], traefik: Any) -> list[str]:
    """A warning when a lab image chosen before the Docker API proxy carries no image of it: its VMs
    cannot pull the default one, so Traefik would see no services."""
    if not recorded.get("traefikImage") or recorded.get("socketProxyImage"):
        return []
    if isinstance(traefik, Mapping) and traefik.get("socketProxyImage"):
        return []
    return [
        "WARNING: the lab image recorded in labAuto carries no image of the Docker API proxy (Traefik reads the swarm through it), "
        "and its VMs cannot pull the default one. Either `pulumi config rm ha-swarm:labAuto` (the next `make up` builds a lab image "
        "that carries it: the VMs are then replaced), or load an image of it on the nodes and name it in traefik.socketProxyImage."
    ]


def needs_resolving(lab: Mapping[str, Any]) -> list[str]:
    """The lab keys left to `auto` (absent counts as auto: it is the default)."""
    return [key for key in AUTO_BY_DEFAULT if lab.get(key, AUTO) == AUTO]


def resolve(lab: Mapping[str, Any], probes: Probes, debian: Callable[[], Path], local: Callable[[], dict[str, str]]) -> dict[str, Any]:
    """What `auto` stands for in this stack: the labAuto object."""
    auto: dict[str, Any] = {}
    wanted = needs_resolving(lab)
    if "domainType" in wanted:
        auto["domainType"], why = choose_domain_type(str(lab.get("uri", LabSettings.uri)), probes)
        log(f"lab.domainType auto -> {why}")
    if "image" in wanted:
        kind, why = choose_image(probes)
        log(f"lab.image auto -> {why}")
        if kind == "debian":
            auto["image"] = str(debian())
        else:
            auto |= local()
            log(
                f"the demo runs from the images the lab carries: {auto['whoamiImage']} for whoami0 and whoami1, {auto['traefikImage']} for Traefik, "
                f"{auto['socketProxyImage']} for its Docker API proxy"
            )
            log(f"the visualizer's image ({PUBLIC_VISUALIZER}) cannot be pulled by the VMs: its service runs {auto['whoamiImage']} in its place")
    return auto


def pulumi_config(stack: str) -> dict[str, Any]:
    """The stack's config, objects as objects."""
    out = subprocess.run(["pulumi", "config", "--stack", stack, "--json"], capture_output=True, text=True, check=True).stdout
    return {key: item["objectValue"] if "objectValue" in item else item.get("value") for key, item in json.loads(out).items()}


def record(stack: str, auto: Mapping[str, Any]) -> None:
    """labAuto in the stack's config, an object of plain values."""
    for key, value in auto.items():
        subprocess.run(["pulumi", "config", "set", "--stack", stack, "--path", f"ha-swarm:labAuto.{key}", "--", str(value)], check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.lab_auto STACK", file=sys.stderr)
        return 2
    stack = argv[0]
    config = pulumi_config(stack)
    if config.get("ha-swarm:target", "lab") != "lab":
        return 0
    lab = config.get("ha-swarm:lab") or {}
    if not isinstance(lab, dict):
        return 0  # the program refuses a lab that is not an object, with its own message
    wanted = needs_resolving(lab)
    recorded = config.get("ha-swarm:labAuto")
    if not wanted:
        return 0
    if isinstance(recorded, dict) and all(recorded.get(k) for k in wanted):
        log(f"auto settings of stack {stack} as chosen before (labAuto): " + ", ".join(f"{k} {recorded[k]}" for k in wanted))
        for line in stale_carried_images(recorded, config.get("ha-swarm:traefik")):
            log(line)
        return 0
    auto = resolve(lab, Probes(), debian=lambda: download_debian(cache_dir() / "lab"), local=build_local_image)
    record(stack, auto)
    log(f"recorded in the stack's config as labAuto: `pulumi config rm --stack {stack} ha-swarm:labAuto` makes the next run choose again")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
