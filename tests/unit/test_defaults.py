"""The defaults of the configuration are written once, on the fields of the settings model
(ha_swarm/config/model.py): the parsers take theirs from it, and Pulumi.yaml's config schema and the
table of docs/configuration.md state the same ones, key by key.

The keys are the loader's own lists (TOP_LEVEL_KEYS and the per-section key lists); a key's model
field is found by its name (`memoryMiB` is the field `memory_mib`, `dashboard.users` the field
`dashboard_users`). A default of None or of an empty collection means "nothing set": the
documents then state no value."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ha_swarm.config import model, parse_settings
from ha_swarm.config.acme_dns import DNS_KEYS
from ha_swarm.config.backup import BACKUP_KEYS
from ha_swarm.config.cloud import CLOUD_KEYS, HOST_KEYS
from ha_swarm.config.engine import ENGINE_KEYS
from ha_swarm.config.lab import LAB_KEYS
from ha_swarm.config.load import TOP_LEVEL_KEYS
from ha_swarm.config.storage import STORAGE_KEYS
from ha_swarm.config.swarm import SWARM_KEYS
from ha_swarm.config.traefik import ACME_KEYS, CERTIFICATE_KEYS, DASHBOARD_KEYS, TRAEFIK_KEYS
from tests.support.mocks import TEST_PRIVATE_KEY

REPO = Path(__file__).resolve().parents[2]

# Every object of the configuration: its keys (the loader's list), the model class whose fields hold
# their values, and the prefix of those fields' names (traefik.dashboard.users is dashboard_users).
SECTIONS: dict[str, tuple[tuple[str, ...], type, str]] = {
    "": (TOP_LEVEL_KEYS, model.Settings, ""),
    "lab": (LAB_KEYS, model.LabSettings, ""),
    "cloud": (CLOUD_KEYS, model.CloudSettings, ""),
    "cloud.hosts[]": (HOST_KEYS, model.CloudHost, ""),
    "traefik": (TRAEFIK_KEYS, model.TraefikSettings, ""),
    "traefik.dashboard": (DASHBOARD_KEYS, model.TraefikSettings, "dashboard"),
    "traefik.acme": (ACME_KEYS, model.AcmeSettings, ""),
    "traefik.acme.dns": (DNS_KEYS, model.AcmeDns, ""),
    "traefik.certificates[]": (CERTIFICATE_KEYS, model.Certificate, ""),
    "storage": (STORAGE_KEYS, model.StorageSettings, ""),
    "swarm": (SWARM_KEYS, model.SwarmSettings, ""),
    "engine": (ENGINE_KEYS, model.EngineSettings, ""),
    "backup": (BACKUP_KEYS, model.BackupSettings, ""),
}

# Keys that no field of the model holds: labAuto is resolved into lab.domainType and lab.image.
UNTYPED_LISTS = ("stacks",)
# backupKey is read by tools/backup.py only (the program checks it, holds nothing of it).
WITHOUT_FIELD = ("labAuto", "traefik.dashboard.allowHttp", "backupKey")

# Defaults that are model constants rather than field defaults: `auto` is resolved before the
# LabSettings are built (their fields have no default), and a kernel command line is only defaulted
# when lab.kernel is given (the field is None without one).
CONSTANT_DEFAULTS: dict[str, Any] = {f"lab.{key}": model.AUTO for key in model.AUTO_BY_DEFAULT} | {
    "lab.kernelArgs": model.DEFAULT_KERNEL_ARGS,
    "traefik.dashboard.allowHttp": model.DEFAULT_DASHBOARD_ALLOW_HTTP,
}

NOTHING = object()  # no default: the key is required, or its feature is off


def _join(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


def _is_section(key: str) -> bool:
    return key in SECTIONS or f"{key}[]" in SECTIONS


def _settings() -> dict[str, tuple[str, type, dataclasses.Field | None]]:
    """Every setting the loader reads (objects excepted): key -> (section, model class, field)."""
    found = {}
    for section, (keys, cls, prefix) in SECTIONS.items():
        fields = {f.name.replace("_", ""): f for f in dataclasses.fields(cls)}
        for key in keys:
            full = _join(section, key)
            if _is_section(full):
                continue
            found[full] = (section, cls, fields.get((prefix + key).lower()))
    return found


SETTINGS = _settings()
SECTION_KEYS = {key.removesuffix("[]") for key in SECTIONS if key}


def _plain(value: Any) -> Any:
    """A model value as the configuration writes it."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, ipaddress.IPv4Network):
        return str(value)
    if isinstance(value, model.StackEntry) and value == model.StackEntry(value.file):
        return value.file  # a stacks entry with only a file is written as its path
    return value


def model_default(key: str) -> Any:
    if key in CONSTANT_DEFAULTS:
        return CONSTANT_DEFAULTS[key]
    field = SETTINGS[key][2]
    if field is None or field.default is dataclasses.MISSING or field.default is None or field.default == ():
        return NOTHING
    return _plain(field.default)


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", str: "string", list: "list of strings"}[type(value)]


def test_every_setting_the_loader_reads_is_a_field_of_the_model():
    without_field = {key for key, (_, _, field) in SETTINGS.items() if field is None}
    assert without_field == set(WITHOUT_FIELD)


# --- Pulumi.yaml ----------------------------------------------------------------------------------


def pulumi_schema() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    prefix = f"{model.NAMESPACE}:"
    assert all(key.startswith(prefix) for key in doc["config"]), "Pulumi.yaml's schema holds only ha-swarm keys"
    return {key.removeprefix(prefix): spec for key, spec in doc["config"].items()}


SCHEMA_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean", "array": "list of strings"}


def _schema_default(spec: dict[str, Any]) -> Any:
    # A key declared without a default must be set in every stack; "" is how the schema says
    # "optional, nothing set" for a string.
    default = spec.get("default", NOTHING)
    return NOTHING if default == "" else default


def test_pulumi_yaml_lists_only_settings_the_loader_reads():
    assert set(pulumi_schema()) - set(SETTINGS) == set()


def test_pulumi_yaml_states_the_model_default_of_every_key_it_lists():
    wrong = {}
    for key, spec in pulumi_schema().items():
        expected = model_default(key)
        if _schema_default(spec) != expected:
            wrong[key] = (spec.get("default", "(none)"), "(none)" if expected is NOTHING else expected)
        elif expected is not NOTHING and SCHEMA_TYPES[spec["type"]] != _type_name(expected):
            wrong[key] = (f"type {spec['type']}", f"a {_type_name(expected)}")
    assert wrong == {}, "Pulumi.yaml -> (schema, model)"


def test_pulumi_yaml_lists_every_top_level_setting_that_has_a_default():
    # Objects cannot be typed in the schema, nor a list whose entries may be objects (`stacks`: paths
    # or {file, name, variables, ...}); every other top-level setting with a default is listed.
    with_default = {key for key, (section, _, _) in SETTINGS.items() if section == "" and model_default(key) is not NOTHING}
    assert with_default - set(pulumi_schema()) - set(UNTYPED_LISTS) == set()
    assert set(UNTYPED_LISTS).isdisjoint(pulumi_schema()), "a list of strings or objects cannot be typed in Pulumi.yaml"


# --- docs/configuration.md ------------------------------------------------------------------------


def configuration_table() -> dict[str, tuple[str, str]]:
    """docs/configuration.md's table: key -> (type cell, default cell)."""
    rows: dict[str, tuple[str, str]] = {}
    lines = (REPO / "docs" / "configuration.md").read_text().splitlines()
    header = lines.index("| key | type | default | meaning |")
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        assert match, f"one key in backquotes per row: {line}"
        assert match[1] not in rows, f"{match[1]} twice in the table"
        rows[match[1]] = (cells[1], cells[2])
    return rows


def documented_default(cell: str) -> Any:
    """A default in backquotes is a value (read as YAML, as Pulumi reads config); any other text
    (empty, `first manager`, `(required, secret)`) states none."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    return yaml.safe_load(match[1]) if match else NOTHING


def test_the_configuration_table_documents_every_setting_the_loader_reads():
    assert set(SETTINGS) - set(configuration_table()) == set()


def test_the_configuration_table_lists_only_settings_the_loader_reads():
    assert set(configuration_table()) - set(SETTINGS) - SECTION_KEYS == set()


def test_the_configuration_table_states_the_model_default_of_every_setting():
    wrong = {}
    for key, (kind, cell) in configuration_table().items():
        expected = NOTHING if key in SECTION_KEYS else model_default(key)
        stated = documented_default(cell)
        if stated != expected:
            wrong[key] = (cell or "(empty)", "(none)" if expected is NOTHING else expected)
        elif expected is not NOTHING and kind != ("list of strings or objects" if key in UNTYPED_LISTS else _type_name(expected)):
            wrong[key] = (kind, _type_name(expected))
    assert wrong == {}, "docs/configuration.md -> (table, model)"


# --- the parsers ----------------------------------------------------------------------------------

# For every field default: another valid value. The model's default is changed to it, and the parsed
# settings of a configuration that leaves the key out must carry it: the parser read the model.
OTHER_VALUES: dict[str, Any] = {
    "target": "cloud",
    "sshUser": "admin",
    "domain": "example.org",
    "stacks": ("stacks/other.yml",),
    "verify": True,
    "verifyTimeout": 30,
    "lab.managers": 3,
    "lab.workers": 1,
    "lab.uri": "qemu:///session",
    "lab.cidr": ipaddress.IPv4Network("10.20.0.0/24"),
    "lab.vcpus": 3,
    "lab.memoryMiB": 1024,
    "lab.diskGiB": 8,
    "lab.networkMode": "isolated",
    "cloud.dockerSource": "docker",
    "cloud.hosts[].port": 2222,
    "traefik.image": "registry.example.com/traefik:v3.7",
    "backup.keep": 30,
    "backup.nodeDir": "/srv/swarm-backups",
    "traefik.socketProxyImage": "registry.example.com/docker-socket-proxy:v0.5",
    "traefik.publishMode": "host",
    "traefik.encryptedNetwork": True,
    "traefik.redirectHttps": False,
    "traefik.acme.challenge": "http",
    "traefik.acme.staging": True,
    "traefik.acme.issuer": "swarm",
    "traefik.acme.image": "registry.example.com/traefik-acme:v1",
    "traefik.acme.dns.disableANSChecks": True,
    "storage.nfs": True,
    "storage.export": "/srv/data",
    "swarm.autolock": True,
}

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhhLXN3YXJtLXRlc3Qta2V5LW5vdC1yZWFs test"


def _config_without(key: str) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "sshPrivateKey": TEST_PRIVATE_KEY,
        "sshPublicKey": PUBLIC_KEY,
        "lab": {},
        "labAuto": {"domainType": "kvm", "image": "https://example.com/image.qcow2"},
        "cloud": {"hosts": [{"name": "m1", "address": "192.0.2.11", "role": "manager"}]},
    }
    section = SETTINGS[key][0]
    if section.startswith("cloud"):
        raw["target"] = "cloud"
    if section == "traefik.acme":
        raw["traefik"] = {"acme": {"email": "ops@example.com"}}
    if section == "traefik.acme.dns":
        raw["traefik"] = {"acme": {"email": "ops@example.com", "challenge": "dns", "dns": {"provider": "httpreq"}}}
    return raw


def _holder(settings: model.Settings, section: str) -> Any:
    return {
        "": settings,
        "lab": settings.lab,
        "cloud": settings.cloud,
        "cloud.hosts[]": settings.cloud.hosts[0] if settings.cloud else None,
        "traefik": settings.traefik,
        "traefik.acme": settings.traefik.acme,
        "traefik.acme.dns": settings.traefik.acme.dns if settings.traefik.acme else None,
        "storage": settings.storage,
        "swarm": settings.swarm,
        "engine": settings.engine,
        "backup": settings.backup,
    }[section]


def test_every_field_default_has_another_value_to_try():
    with_field_default = {key for key in SETTINGS if key not in CONSTANT_DEFAULTS and model_default(key) is not NOTHING}
    assert with_field_default == set(OTHER_VALUES)


@pytest.mark.parametrize("key", sorted(OTHER_VALUES))
def test_the_parsers_take_the_default_from_the_model(key, monkeypatch):
    section, cls, field = SETTINGS[key]
    assert field is not None
    other = OTHER_VALUES[key]
    assert other != field.default
    monkeypatch.setattr(cls, field.name, other)
    settings = parse_settings(_config_without(key))
    assert getattr(_holder(settings, section), field.name) == other


# --- the shell tools, which cannot import the model -----------------------------------------------


def test_the_shell_tools_fall_back_on_the_model_defaults():
    lab_ready = (REPO / "tools" / "lab-ready.sh").read_text()
    verify = (REPO / "ha_swarm" / "nodes" / "scripts" / "verify.sh").read_text()
    assert re.findall(r"\$\{target:-([^}]*)\}", lab_ready) == [model.Settings.target]
    assert re.findall(r"\buri=\$\{uri:-([^}]*)\}", lab_ready) == [model.LabSettings.uri]
    # `make verify` without a timeout waits as long as the verify step of `pulumi up` by default.
    assert re.findall(r"hs_timeout_from HS_VERIFY_TIMEOUT (\d+)", verify) == [str(model.DEFAULT_VERIFY_TIMEOUT)]
