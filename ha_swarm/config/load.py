"""The whole configuration: `parse_settings` checks the raw values of the namespace (pure Python,
no Pulumi runtime) and builds the `Settings`, or raises a `Refusal` naming the key, the bad value and
what is allowed; `load_settings` reads the namespace from the running program.  No resource is
declared before this has succeeded."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from ha_swarm.config.agekey import AgeKeyError, recipient_of
from ha_swarm.config.backup import BACKUP_KEY_ALLOWED, check_backup_key, parse_backup
from ha_swarm.config.checks import (
    CONFIG,
    DNS_NAME,
    LINUX_USER,
    LINUX_USER_ALLOWED,
    SSH_PUBLIC_KEY,
    bool_field,
    choice,
    only,
    text_field,
    whole_field,
)
from ha_swarm.config.cloud import parse_cloud
from ha_swarm.config.engine import parse_engine
from ha_swarm.config.lab import parse_lab, parse_lab_auto
from ha_swarm.config.model import NAMESPACE, TARGETS, Settings
from ha_swarm.config.stacks import parse_stack_variables, parse_stacks
from ha_swarm.config.storage import parse_storage
from ha_swarm.config.swarm import parse_node_labels, parse_swarm
from ha_swarm.config.traefik import parse_traefik

TOP_LEVEL_KEYS = (
    "target",
    "lab",
    "cloud",
    "sshUser",
    "sshPublicKey",
    "sshPrivateKey",
    "domain",
    "traefik",
    "stacks",
    "stackVariables",
    "nodeLabels",
    "verify",
    "verifyTimeout",
    "labAuto",
    "storage",
    "swarm",
    "engine",
    "backup",
    "backupKey",
)


def parse_settings(raw: Mapping[str, Any], secret_keys: Sequence[str] = (), plain_private_key: str | None = None) -> Settings:
    """Validate the raw config values of the namespace and build the Settings.

    `secret_keys`: the keys of the namespace that the stack keeps encrypted (pulumi config --secret).
    `plain_private_key`: sshPrivateKey's text when it is read as a secret Output (the key of the
    digests in secrets' names is derived from it).
    """
    only(CONFIG, "", raw, TOP_LEVEL_KEYS)
    target = choice(CONFIG, "target", raw.get("target") or Settings.target, TARGETS)
    ssh_user = text_field(raw, "sshUser", "sshUser", Settings.ssh_user)
    assert ssh_user is not None
    if not LINUX_USER.fullmatch(ssh_user):
        raise CONFIG.refuse("sshUser", ssh_user, LINUX_USER_ALLOWED)

    private_key = raw.get("sshPrivateKey")
    if private_key is None or (isinstance(private_key, str) and not private_key.strip()):
        raise CONFIG.refuse("sshPrivateKey", None, f"a private key, {PRIVATE_KEY_ALLOWED}")
    if isinstance(private_key, str) and not PRIVATE_KEY.fullmatch(private_key):
        # Never echo it: a private key pasted with a typo is still a private key.
        raise CONFIG.refuse("sshPrivateKey", "<hidden>", f"a private key in PEM form (-----BEGIN OPENSSH PRIVATE KEY----- ...), {PRIVATE_KEY_ALLOWED}")

    public_key = raw.get("sshPublicKey") or None
    if public_key is not None and (not isinstance(public_key, str) or not SSH_PUBLIC_KEY.fullmatch(public_key.strip())):
        raise CONFIG.refuse("sshPublicKey", public_key, "an OpenSSH public key line (ssh-ed25519 AAAA... comment)")

    lab = None
    cloud = None
    if target == "lab":
        if public_key is None:
            raise CONFIG.refuse(
                "sshPublicKey", None, 'an OpenSSH public key line, installed on the lab VMs: pulumi config set sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"'
            )
        lab, nodes = parse_lab(raw.get("lab"), ssh_user, parse_lab_auto(raw.get("labAuto")))
    else:
        cloud, nodes = parse_cloud(raw.get("cloud"), ssh_user)

    names = [n.name for n in nodes]
    for name in names:
        if names.count(name) > 1:
            raise CONFIG.refuse("cloud.hosts", names, f"unique node names ({name!r} appears {names.count(name)} times)")
    swarm_addresses = [n.swarm_address for n in nodes]
    for address in swarm_addresses:
        if swarm_addresses.count(address) > 1:
            raise CONFIG.refuse("cloud.hosts", swarm_addresses, f"one host per swarm address ({address} appears twice)")

    domain = text_field(raw, "domain", "domain", Settings.domain)
    assert domain is not None
    if not DNS_NAME.fullmatch(domain):
        raise CONFIG.refuse("domain", domain, "a DNS name such as traefik or example.com")

    check_backup_key(raw.get("backupKey"), "backupKey" in secret_keys)
    backup = parse_backup(raw.get("backup"))
    if backup.schedule is not None:
        if raw.get("backupKey") is None:
            needs = f"a schedule with the stack's secret backupKey (the managers encrypt to its public key): {BACKUP_KEY_ALLOWED}"
            raise CONFIG.refuse("backup.schedule", backup.schedule, needs)
        try:
            backup = dataclasses.replace(backup, recipient=recipient_of(raw["backupKey"]))
        except AgeKeyError:
            raise CONFIG.refuse("backupKey", "<hidden>", BACKUP_KEY_ALLOWED) from None
    swarm = parse_swarm(raw.get("swarm"))
    managers = [n.name for n in nodes if n.role == "manager"]
    if swarm.restored_on is not None and swarm.restored_on not in managers:
        raise CONFIG.refuse("swarm.restoredOn", swarm.restored_on, f"the manager `make restore` restored the swarm on: one of {', '.join(managers)}")
    carried = _with_carried_images(raw, target)  # Traefik and the demo from the images a lab carries
    return Settings(
        target=target,
        lab=lab,
        cloud=cloud,
        ssh_user=ssh_user,
        ssh_public_key=public_key.strip() if public_key else None,
        ssh_private_key=private_key,
        domain=domain,
        traefik=parse_traefik(carried.get("traefik"), [n.name for n in nodes if n.role == "manager"], "traefik" in secret_keys),
        stacks=parse_stacks(raw.get("stacks")),
        stack_variables=parse_stack_variables(carried.get("stackVariables")),
        node_labels=parse_node_labels(raw.get("nodeLabels"), names),
        nodes=nodes,
        storage=parse_storage(raw.get("storage"), target, raw.get("stackVariables")),
        verify=bool_field(raw, "verify", "verify", Settings.verify),
        verify_timeout=whole_field(raw, "verifyTimeout", "verifyTimeout", Settings.verify_timeout, 1, 3600),
        swarm=swarm,
        engine=parse_engine(raw.get("engine")),
        backup=backup,
        secret_names_key=hashlib.sha256(b"ha-swarm secret names\0" + str(plain_private_key or private_key).encode()).digest(),
    )


# An SSH private key as ssh-keygen writes it (OpenSSH, or PEM of RSA, EC, DSA or PKCS#8), whole.
PRIVATE_KEY = re.compile(r"\s*-----BEGIN ((?:OPENSSH|RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----\r?\n(?:(?!-----)[^\n]*\n)+-----END \1PRIVATE KEY-----\s*")
PRIVATE_KEY_ALLOWED = "set as a secret: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519"


def _with_carried_images(raw: Mapping[str, Any], target: str) -> Mapping[str, Any]:
    """With a lab image that carries the demo's container images (labAuto, when the VMs cannot pull):
    Traefik, its Docker API proxy and the demo run from those, unless traefik.image,
    traefik.socketProxyImage or stackVariables name others. The visualizer's own image is not
    carried: its service (stacks/visualizer.yml) runs whoami's in its place (tools/lab_auto.py says
    so when it chooses)."""
    auto = raw.get("labAuto")
    if target != "lab" or not isinstance(auto, Mapping) or not auto.get("whoamiImage") or not auto.get("traefikImage"):
        return raw
    traefik = raw.get("traefik")
    variables = raw.get("stackVariables")
    if (traefik is not None and not isinstance(traefik, Mapping)) or (variables is not None and not isinstance(variables, Mapping)):
        return raw  # refused by their own parsers, with their own messages
    return {
        **raw,
        "traefik": {
            "image": auto["traefikImage"],
            **({"socketProxyImage": auto["socketProxyImage"]} if auto.get("socketProxyImage") else {}),
            **(traefik or {}),
        },
        "stackVariables": {"WHOAMI_IMAGE": auto["whoamiImage"], "VISUALIZER_IMAGE": auto["whoamiImage"], **(variables or {})},
    }


def _namespace_keys() -> list[str]:
    """Every key that the stack sets in the ha-swarm namespace (to refuse typos)."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    return sorted(k[len(prefix) :] for k in keys if k.startswith(prefix))


_OBJECT_KEYS = ("lab", "labAuto", "cloud", "traefik", "stacks", "stackVariables", "nodeLabels", "storage", "swarm", "engine", "backup")


def load_settings() -> Settings:
    """Read the `ha-swarm` namespace from the running Pulumi program and parse it."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key in _namespace_keys():
        if key == "sshPrivateKey":
            continue
        try:
            raw[key] = config.get_object(key) if key in _OBJECT_KEYS else config.get(key)
        except pulumi.ConfigTypeError:
            raise CONFIG.refuse(key, config.get(key), "valid JSON for an object or list value") from None
        except json.JSONDecodeError:
            raise CONFIG.refuse(key, config.get(key), "valid JSON for an object or list value") from None
    from pulumi.runtime import config as runtime_config

    # The key's text is checked here, once, and then only travels as a Pulumi secret.
    raw["sshPrivateKey"] = runtime_config.get_config(f"{NAMESPACE}:sshPrivateKey")
    secret_keys = [key for key in raw if runtime_config.is_config_secret(f"{NAMESPACE}:{key}")]
    if raw["sshPrivateKey"] is not None and "sshPrivateKey" not in secret_keys:
        raise CONFIG.refuse("sshPrivateKey", "<hidden>", f"a private key {PRIVATE_KEY_ALLOWED} (it is stored in plain text now)")
    settings = parse_settings(raw, secret_keys)
    return dataclasses.replace(settings, ssh_private_key=config.get_secret("sshPrivateKey"))
