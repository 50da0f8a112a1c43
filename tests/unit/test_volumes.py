"""The compose translation of every volume form, as `docker stack deploy` turns them into mounts:
named volumes with and without a driver and driver options (the NFS form), external and renamed
volumes, anonymous volumes, bind mounts (short and long syntax, ro, relative, propagation),
`nocopy` (short `:nocopy` and long `volume.nocopy`), tmpfs; and the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ha_swarm.apps.compose.load import translate
from ha_swarm.apps.compose.model import STACK_LABEL, ComposeError

FILE = "stacks/test.yml"
NFS_ADDR = "10.17.3.11"
VARIABLES = {"DOMAIN": "example.test", "NFS_ADDR": NFS_ADDR, "NFS_EXPORT": "/srv/nfs"}
STACK_LABELS = [{"label": STACK_LABEL, "value": "test"}]
NFS_VOLUME = {"driver": "local", "driver_opts": {"type": "nfs", "o": "addr=${NFS_ADDR},rw,nfsvers=4", "device": ":${NFS_EXPORT}/app"}}
NFS_OPTIONS = {"device": ":/srv/nfs/app", "o": f"addr={NFS_ADDR},rw,nfsvers=4", "type": "nfs"}


def mounts(items: list[Any], variables: dict[str, str] | None = None, **volumes: Any) -> list[dict[str, Any]]:
    doc = {"version": "3.9", "services": {"app": {"image": "nginx:1.27", "volumes": items}}, "volumes": volumes}
    spec = translate(doc, VARIABLES if variables is None else variables, file=FILE, stack_name="test")
    return spec.services[0].args["task_spec"]["container_spec"]["mounts"]


def refused(items: list[Any], variables: dict[str, str] | None = None, **volumes: Any) -> str:
    with pytest.raises(ComposeError) as info:
        mounts(items, variables, **volumes)
    message = str(info.value)
    assert message.startswith(f"{FILE}: ") and "\n" not in message
    return message


# --------------------------------------------------------------------------- named volumes


def test_an_nfs_named_volume_becomes_a_volume_mount_with_the_local_driver_and_its_nfs_options() -> None:
    assert mounts(["data:/data"], data=NFS_VOLUME) == [
        {
            "type": "volume",
            "source": "test_data",
            "target": "/data",
            "read_only": False,
            "volume_options": {"no_copy": False, "labels": STACK_LABELS, "driver_name": "local", "driver_options": NFS_OPTIONS},
        }
    ]


def test_the_long_syntax_of_an_nfs_volume_gives_the_same_mount() -> None:
    assert mounts([{"type": "volume", "source": "data", "target": "/data"}], data=NFS_VOLUME) == mounts(["data:/data"], data=NFS_VOLUME)


def test_driver_opts_in_list_form_and_with_numbers_become_strings() -> None:
    (mount,) = mounts(["data:/data"], data={"driver": "local", "driver_opts": ["type=nfs", "o=addr=10.0.0.1,nfsvers=4.1", "device=:/x"], "labels": {"size": 5}})
    assert mount["volume_options"]["driver_options"] == {"type": "nfs", "o": "addr=10.0.0.1,nfsvers=4.1", "device": ":/x"}
    assert mount["volume_options"]["labels"] == [{"label": STACK_LABEL, "value": "test"}, {"label": "size", "value": "5"}]


def test_a_named_volume_without_a_driver_gets_only_the_stack_label() -> None:
    for declared in (None, {}):
        (mount,) = mounts(["data:/data"], data=declared)
        assert mount["volume_options"] == {"no_copy": False, "labels": STACK_LABELS}, "no driver_name: the daemon's default (local)"


def test_driver_opts_without_a_driver_are_passed_like_docker_stack_deploy_does() -> None:
    (mount,) = mounts(["data:/data"], data={"driver_opts": {"type": "tmpfs", "device": "tmpfs"}})
    assert "driver_name" not in mount["volume_options"]
    assert mount["volume_options"]["driver_options"] == {"device": "tmpfs", "type": "tmpfs"}


def test_a_volume_driver_plugin_keeps_its_name() -> None:
    (mount,) = mounts(["data:/data"], data={"driver": "rexray/ebs", "driver_opts": {"size": "10"}})
    assert mount["volume_options"]["driver_name"] == "rexray/ebs"


def test_a_named_volume_can_be_mounted_read_only() -> None:
    assert mounts(["data:/data:ro"], data=NFS_VOLUME)[0]["read_only"] is True
    assert mounts([{"type": "volume", "source": "data", "target": "/data", "read_only": True}], data=NFS_VOLUME)[0]["read_only"] is True


def test_a_renamed_volume_keeps_its_name_and_its_driver_options() -> None:
    (mount,) = mounts(["data:/data"], data={**NFS_VOLUME, "name": "shared-data"})
    assert mount["source"] == "shared-data" and mount["volume_options"]["driver_options"] == NFS_OPTIONS


def test_an_external_volume_is_mounted_by_its_own_name_without_labels_or_driver() -> None:
    assert mounts(["data:/data:nocopy"], data={"external": True}) == [
        {"type": "volume", "source": "data", "target": "/data", "read_only": False, "volume_options": {"no_copy": True}}
    ]
    assert mounts(["data:/data"], data={"external": {"name": "backups"}})[0]["source"] == "backups"


def test_an_external_volume_with_a_driver_is_refused() -> None:
    message = refused(["data:/data"], data={"external": True, "driver": "local"})
    assert "volumes.data.driver = 'local' is refused: nothing else on an external object" in message


def test_the_stack_lists_the_volumes_its_services_mount_and_only_those() -> None:
    doc = {"version": "3.9", "services": {"app": {"image": "nginx:1.27", "volumes": ["data:/data"]}}, "volumes": {"data": NFS_VOLUME, "unused": None}}
    spec = translate(doc, VARIABLES, file=FILE, stack_name="test")
    (volume,) = spec.volumes
    assert (volume.key, volume.name, volume.external, volume.driver) == ("data", "test_data", False, "local")
    assert dict(volume.driver_opts) == NFS_OPTIONS


# --------------------------------------------------------------------------- nocopy


@pytest.mark.parametrize(
    "item",
    ["data:/data:nocopy", "data:/data:ro,nocopy", {"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}}],
    ids=["short", "short-with-ro", "long"],
)
def test_nocopy_is_honoured_on_a_named_volume(item: Any) -> None:
    assert mounts([item], data=NFS_VOLUME)[0]["volume_options"]["no_copy"] is True


def test_nocopy_on_an_anonymous_volume() -> None:
    assert mounts([{"type": "volume", "target": "/cache", "volume": {"nocopy": True}}]) == [
        {"type": "volume", "target": "/cache", "read_only": False, "volume_options": {"no_copy": True}}
    ]


def test_nocopy_on_a_bind_mount_is_refused() -> None:
    assert "plus nocopy for a volume" in refused(["/srv:/srv:nocopy"])
    assert "volumes[0].volume = " in refused([{"type": "bind", "source": "/srv", "target": "/srv", "volume": {"nocopy": True}}])


# --------------------------------------------------------------------------- anonymous volumes and bind mounts


def test_an_anonymous_volume_has_only_its_target() -> None:
    assert mounts(["/scratch"]) == [{"type": "volume", "target": "/scratch", "read_only": False}]


@pytest.mark.parametrize(
    ("item", "read_only"),
    [("/srv/www:/usr/share/nginx/html", False), ("/srv/www:/usr/share/nginx/html:rw", False), ("/srv/www:/usr/share/nginx/html:ro", True)],
)
def test_a_short_bind_mount_with_its_access_mode(item: str, read_only: bool) -> None:
    assert mounts([item]) == [{"type": "bind", "source": "/srv/www", "target": "/usr/share/nginx/html", "read_only": read_only}]


def test_a_relative_bind_source_is_resolved_against_the_compose_file() -> None:
    assert mounts(["./conf:/etc/app:ro"])[0]["source"] == str(Path(FILE).parent.resolve() / "conf")


def test_a_long_bind_mount_with_read_only_and_propagation() -> None:
    item = {"type": "bind", "source": "/var/log", "target": "/host/log", "read_only": True, "bind": {"propagation": "rslave"}}
    assert mounts([item]) == [{"type": "bind", "source": "/var/log", "target": "/host/log", "read_only": True, "bind_options": {"propagation": "rslave"}}]


def test_a_bind_mount_from_the_home_folder_takes_the_home_variable_as_the_docker_client_takes_home() -> None:
    assert mounts(["~/data:/data:ro"], {"HOME": "/home/swarm"}) == [{"type": "bind", "source": "/home/swarm/data", "target": "/data", "read_only": True}]
    assert mounts([{"type": "bind", "source": "~/d", "target": "/d"}], {"HOME": "/srv"})[0]["source"] == "/srv/d"


def test_a_bind_mount_from_the_home_folder_without_home_is_refused_saying_how_to_give_it() -> None:
    assert "volumes[0] = '~/data' is refused: a host path: ~ stands for the HOME of whoever runs docker stack deploy; give HOME" in refused(["~/data:/data"])


def test_a_long_bind_mount_without_a_source_is_refused() -> None:
    assert "volumes[0].source = null is refused: a host path (a bind mount needs a source)" in refused([{"type": "bind", "target": "/data"}])


def test_an_option_docker_ignores_is_ignored_with_a_warning() -> None:
    doc = {"services": {"app": {"image": "nginx:1.27", "volumes": ["/a:/b:ro,z"]}}}
    spec = translate(doc, VARIABLES, file=FILE, stack_name="test")
    assert spec.services[0].args["task_spec"]["container_spec"]["mounts"] == [{"type": "bind", "source": "/a", "target": "/b", "read_only": True}]
    assert spec.warnings == (f"{FILE}: volume option z is ignored, as docker stack deploy ignores it (service app): docker stack deploy ignores it (/a:/b:ro,z)",)


def test_nocopy_on_a_bind_mount_is_refused_as_docker_refuses_it() -> None:
    assert "options ro or rw" in refused(["/srv:/srv:nocopy"])


# --------------------------------------------------------------------------- tmpfs


def test_a_tmpfs_mount_with_and_without_a_size() -> None:
    assert mounts([{"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "64M"}}, {"type": "tmpfs", "target": "/run"}]) == [
        {"type": "tmpfs", "target": "/tmp", "read_only": False, "tmpfs_options": {"size_bytes": 64 * 1024**2}},
        {"type": "tmpfs", "target": "/run", "read_only": False},
    ]


def test_a_tmpfs_mount_with_a_source_is_refused() -> None:
    assert "nothing: a tmpfs mount has no source" in refused([{"type": "tmpfs", "source": "x", "target": "/tmp"}])


# --------------------------------------------------------------------------- variables


def test_nfs_addr_is_interpolated_in_the_top_level_volume() -> None:
    (mount,) = mounts(["data:/data"], {"NFS_ADDR": "192.0.2.7", "NFS_EXPORT": "/exports"}, data=NFS_VOLUME)
    assert mount["volume_options"]["driver_options"] == {"device": ":/exports/app", "o": "addr=192.0.2.7,rw,nfsvers=4", "type": "nfs"}


def test_a_volume_that_needs_nfs_addr_without_it_is_refused_naming_the_variable_and_the_hint() -> None:
    doc = {"version": "3.9", "services": {"app": {"image": "nginx:1.27", "volumes": ["data:/data"]}}, "volumes": {"data": NFS_VOLUME}}
    with pytest.raises(ComposeError) as info:
        translate(doc, {"DOMAIN": "example.test"}, file=FILE, stack_name="test", hints={"NFS_ADDR": "set storage.nfs: true"})
    assert str(info.value) == (
        f"{FILE}: volumes.data.driver_opts.o = 'addr=${{NFS_ADDR}},rw,nfsvers=4' is refused: variable NFS_ADDR: it is not provided "
        "(set storage.nfs: true) and has no default (provided: DOMAIN; give a default with ${NFS_ADDR:-value})"
    )


def test_a_default_for_nfs_addr_is_used_when_it_is_not_provided() -> None:
    volume = {"driver": "local", "driver_opts": {"type": "nfs", "o": "addr=${NFS_ADDR:-10.0.0.5}", "device": ":/x"}}
    assert mounts(["data:/data"], {"DOMAIN": "example.test"}, data=volume)[0]["volume_options"]["driver_options"]["o"] == "addr=10.0.0.5"
