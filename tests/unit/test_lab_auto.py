"""`lab.domainType: auto` and `lab.image: auto` (issue 15): tools/lab_auto.py chooses once with the
probes it is given (KVM usable or not, Debian's image and the container registry reachable or not),
records the choice as labAuto, and the program takes labAuto for `auto`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ha_swarm.config import SettingsError, parse_settings
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, base_config, run_program
from tools import lab_auto
from tools.lab_auto import DEBIAN_IMAGE, REGISTRY, Probes, choose_domain_type, choose_image, download_debian, resolve

DEBIAN_URL = f"{lab_auto.DEBIAN_IMAGES}/{DEBIAN_IMAGE}"
LOCAL = {
    "image": "/cache/lab/ha-swarm-lab.qcow2",
    "kernel": "/cache/lab/vmlinuz",
    "initrd": "/cache/lab/initrd.img",
    "kernelArgs": "root=/dev/vda rw console=ttyS0",
    "traefikImage": "ha-swarm/traefik:v3.6.12",
    "whoamiImage": "ha-swarm/whoami:lite-2",
    "socketProxyImage": "ha-swarm/socket-proxy:lite-1",
}


def probes(kvm: bool = False, reachable: tuple[str, ...] = ()) -> Probes:
    return Probes(kvm_usable=lambda: kvm, answers=lambda url: url in reachable)


def test_kvm_where_dev_kvm_is_usable_else_qemu_said_to_be_slow() -> None:
    assert choose_domain_type("qemu:///system", probes(kvm=True))[0] == "kvm"
    kind, why = choose_domain_type("qemu:///system", probes(kvm=False))
    assert kind == "qemu" and "slow" in why


def test_a_remote_hypervisor_is_taken_to_have_kvm_whatever_this_machine_has() -> None:
    kind, why = choose_domain_type("qemu+ssh://ops@hv.example.test/system", probes(kvm=False))
    assert kind == "kvm" and "remote" in why


@pytest.mark.parametrize(
    ("reachable", "expected"),
    [
        ((DEBIAN_URL, REGISTRY), "debian"),
        ((DEBIAN_URL,), "local"),  # the image, but the VMs could not pull Traefik and whoami
        ((REGISTRY,), "local"),
        ((), "local"),
    ],
)
def test_debians_image_only_when_it_and_the_registry_can_be_reached(reachable: tuple[str, ...], expected: str) -> None:
    kind, why = choose_image(probes(reachable=reachable))
    assert kind == expected, why


def test_resolve_online_downloads_debians_image_and_keeps_the_public_container_images() -> None:
    calls: list[str] = []
    auto = resolve(
        {"uri": "qemu:///system"},
        probes(kvm=True, reachable=(DEBIAN_URL, REGISTRY)),
        debian=lambda: calls.append("debian") or Path("/cache/lab") / DEBIAN_IMAGE,
        local=lambda: calls.append("local") or LOCAL,
    )
    assert calls == ["debian"]
    assert auto == {"domainType": "kvm", "image": f"/cache/lab/{DEBIAN_IMAGE}"}


def test_resolve_offline_builds_the_local_image_with_the_demos_images(capsys: pytest.CaptureFixture[str]) -> None:
    auto = resolve({}, probes(), debian=lambda: pytest.fail("no download offline"), local=lambda: LOCAL)
    assert auto == {"domainType": "qemu", **LOCAL}
    err = capsys.readouterr().err
    assert "software emulation" in err and "visualizer" in err and "ha-swarm/whoami:lite-2" in err


def test_only_the_keys_left_to_auto_are_chosen() -> None:
    auto = resolve({"domainType": "qemu", "image": "/my/image.qcow2"}, probes(), debian=lambda: pytest.fail("no"), local=lambda: pytest.fail("no"))
    assert auto == {}
    assert lab_auto.needs_resolving({}) == ["domainType", "image"]


def test_debians_image_is_checked_against_its_published_sha512(tmp_path: Path) -> None:
    data = b"qcow2 image bytes"
    sums = f"{hashlib.sha512(b'other').hexdigest()}  debian-12-nocloud-amd64.qcow2\n{hashlib.sha512(data).hexdigest()}  {DEBIAN_IMAGE}\n"
    fetched: list[str] = []

    def fetch_to(url: str, path: Path) -> None:
        fetched.append(url)
        path.write_bytes(data)

    path = download_debian(tmp_path, fetch=lambda url: sums.encode(), fetch_to=fetch_to)
    assert path.read_bytes() == data and fetched == [DEBIAN_URL]
    # Once there and matching, it is not downloaded again.
    assert download_debian(tmp_path, fetch=lambda url: sums.encode(), fetch_to=fetch_to) == path and len(fetched) == 1


def test_a_debian_image_that_does_not_match_its_checksum_is_refused_and_not_kept(tmp_path: Path) -> None:
    sums = f"{'0' * 128}  {DEBIAN_IMAGE}\n"
    with pytest.raises(SystemExit, match="checksum mismatch"):
        download_debian(tmp_path, fetch=lambda url: sums.encode(), fetch_to=lambda url, path: path.write_bytes(b"tampered"))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------- the program


def auto_config(lab: dict[str, object], auto: dict[str, str] | None) -> dict[str, object]:
    config = base_config()
    config["lab"] = {"managers": 1, "workers": 2, **lab}
    if auto is not None:
        config["labAuto"] = auto
    return config


def test_auto_without_a_recorded_choice_is_refused_saying_to_run_make_up() -> None:
    raw = {"target": "lab", "lab": {}, "sshPublicKey": TEST_PUBLIC_KEY, "sshPrivateKey": TEST_PRIVATE_KEY}
    with pytest.raises(SettingsError, match=r"lab\.domainType.*make up.*tools\.lab_auto"):
        parse_settings(raw)


def test_the_recorded_local_image_boots_its_kernel_and_the_demo_runs_from_the_carried_images(tmp_path: Path) -> None:
    files = {k: tmp_path / Path(LOCAL[k]).name for k in ("image", "kernel", "initrd")}
    for path in files.values():
        path.write_bytes(b"x")
    auto = {**LOCAL, **{k: str(v) for k, v in files.items()}, "domainType": "qemu"}
    p = run_program(auto_config({}, auto))
    for domain in p.of_type("libvirt:index/domain:Domain"):
        assert domain.inputs["type"] == "qemu"
        assert domain.inputs["cmdlines"] == [{"console": "ttyS0", "root": "/dev/vda"}, {"_": "rw"}]
    assert p.named("base-image").inputs["source"] == str(files["image"])
    assert p.named("boot-kernel").inputs["source"] == str(files["kernel"])
    images = {s.inputs["name"]: s.inputs["taskSpec"]["containerSpec"]["image"] for s in p.of_type("docker:index/service:Service")}
    assert images["traefik"] == "ha-swarm/traefik:v3.6.12"
    assert images["docker-api-proxy"] == "ha-swarm/socket-proxy:lite-1", "the lab carries the Docker API proxy's image too"
    assert images["demo_whoami0"] == images["demo_whoami1"] == "ha-swarm/whoami:lite-2"


def test_settings_given_by_the_user_win_over_the_recorded_choice(tmp_path: Path) -> None:
    image = tmp_path / "mine.qcow2"
    image.write_bytes(b"x")
    config = auto_config({"image": str(image), "domainType": "kvm"}, {**LOCAL, "domainType": "qemu"})
    config["traefik"] = {"image": "traefik:v3.6.12"}
    config["stackVariables"] = {"WHOAMI_IMAGE": "traefik/whoami:v1.10"}
    p = run_program(config)
    assert {d.inputs["type"] for d in p.of_type("libvirt:index/domain:Domain")} == {"kvm"}
    assert p.named("base-image").inputs["source"] == str(image)
    assert not [v for v in p.of_type("libvirt:index/volume:Volume") if v.name.startswith("boot-")]
    images = {s.inputs["name"]: s.inputs["taskSpec"]["containerSpec"]["image"] for s in p.of_type("docker:index/service:Service")}
    assert images["traefik"] == "traefik:v3.6.12" and images["demo_whoami0"] == "traefik/whoami:v1.10"


def test_an_online_choice_keeps_the_public_images() -> None:
    p = run_program(auto_config({}, {"domainType": "kvm", "image": "https://example.test/debian-12-genericcloud-amd64.qcow2"}))
    images = {s.inputs["name"]: s.inputs["taskSpec"]["containerSpec"]["image"] for s in p.of_type("docker:index/service:Service")}
    assert images["demo_whoami0"] == "traefik/whoami:v1.10" and images["docker-api-proxy"] == "ghcr.io/tecnativa/docker-socket-proxy:v0.4.0"


def test_a_lab_image_recorded_before_the_docker_api_proxy_is_warned_about_unless_an_image_is_named() -> None:
    before = {k: v for k, v in LOCAL.items() if k != "socketProxyImage"}
    (warning,) = lab_auto.stale_carried_images(before, None)
    assert "carries no image of the Docker API proxy" in warning and "pulumi config rm ha-swarm:labAuto" in warning
    assert lab_auto.stale_carried_images(before, {"socketProxyImage": "local/proxy:1"}) == []
    assert lab_auto.stale_carried_images(LOCAL, None) == []
    assert lab_auto.stale_carried_images({"domainType": "kvm", "image": "https://example.test/x.qcow2"}, None) == []


def test_an_unknown_key_in_the_recorded_choice_is_refused() -> None:
    with pytest.raises(SettingsError, match="labAuto"):
        run_program(auto_config({}, {"domainType": "kvm", "image": "https://example.test/x.qcow2", "color": "blue"}))


@pytest.mark.parametrize(("qemu", "usable"), [("exec sleep 30", True), ("echo 'failed to set MSR 0x10a' >&2; exit 1", False)])
def test_kvm_is_usable_only_when_a_guest_runs_under_it_with_the_host_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qemu: str, usable: bool) -> None:
    # Under nested virtualisation /dev/kvm can exist while QEMU aborts on the host CPU's registers.
    device = tmp_path / "kvm"
    device.write_bytes(b"")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "qemu-system-x86_64"
    stub.write_text(f'#!/bin/sh\ncase " $* " in *" -enable-kvm -cpu host "*) ;; *) exit 3 ;; esac\n{qemu}\n')
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert lab_auto.kvm_usable(str(device), seconds=1) is usable
    assert lab_auto.kvm_usable(str(tmp_path / "no-such-device"), seconds=1) is False
