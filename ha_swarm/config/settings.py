"""The stack configuration, parsed once into frozen, validated objects.

`parse_settings` is pure Python: it takes the raw values of the `ha-swarm`
config namespace (as `pulumi.Config` returns them) and either returns a
`Settings` or raises `SettingsError` naming the key, the bad value and what is
allowed.  `load_settings` reads the namespace from the Pulumi runtime.  No
resource may be declared before this has succeeded.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

NAMESPACE = "ha-swarm"

TARGETS = ("lab", "cloud")
MANAGER_COUNTS = (1, 3, 5, 7)
DOMAIN_TYPES = ("kvm", "qemu")
# `auto` (the default of lab.domainType and lab.image) stands for what tools/lab_auto.py chose for the
# stack (`make up` runs it) and recorded as `labAuto`.
AUTO = "auto"
LAB_ALLOWED = {"image": "an http(s) URL or an existing local path of a cloud image (qcow2)", "domainType": "kvm or qemu"}
LAB_AUTO_KEYS = ("domainType", "image", "kernel", "initrd", "kernelArgs", "traefikImage", "whoamiImage")
ROLES = ("manager", "worker")
DOCKER_SOURCES = ("distro", "docker")
PUBLISH_MODES = ("ingress", "host")
DEFAULT_TRAEFIK_IMAGE = "traefik:v3.6.1"

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_HTPASSWD_BCRYPT = re.compile(r"^[^:\s]+:\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
# One line: a key of two lines would add a second entry (`@cert-authority ...`, `command="..."`) to
# the known_hosts or authorized_keys file it is written to.
_SSH_PUBLIC_KEY = re.compile(r"(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[^\s]+)[ \t]+[A-Za-z0-9+/=]+([ \t][^\r\n]*)?")
# A Linux user name: what reaches ssh's argv and the Docker provider's ProxyCommand, which a shell runs.
_LINUX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

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
)
LAB_KEYS = ("managers", "workers", "uri", "image", "cidr", "domainType", "vcpus", "memoryMiB", "diskGiB", "networkMode", "kernel", "initrd", "kernelArgs")
NETWORK_MODES = ("nat", "isolated")
DEFAULT_KERNEL_ARGS = "root=/dev/vda rw console=ttyS0"
# Seconds the `verify: true` step of `pulumi up` waits for failing checks to pass.
DEFAULT_VERIFY_TIMEOUT = 60
HOST_KEYS = ("name", "address", "privateAddress", "role", "user", "port", "hostKey")
TRAEFIK_KEYS = ("image", "publishMode", "encryptedNetwork", "dashboard", "acme", "redirectHttps", "certificates")
DASHBOARD_KEYS = ("users",)
ACME_KEYS = ("email", "challenge", "staging", "caServer", "caBundle", "node")
ACME_CHALLENGES = ("tls", "http")
CERTIFICATE_KEYS = ("cert", "key")
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]+-----END ([A-Z]+ )?PRIVATE KEY-----")

STORAGE_KEYS = ("nfs", "export")
DEFAULT_NFS_EXPORT = "/srv/nfs"
# Folders an NFS export may not be (or be under): the system's own.
_SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr", "/var/lib/docker")

SWARM_KEYS = ("rotateTokens", "autolock")
_GENERATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")

ENGINE_KEYS = ("version",)
# A Docker Engine version as `docker version` reports it: 27.3.1, or with a distribution suffix (20.10.24+dfsg1).
_ENGINE_VERSION = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}([+~-][0-9A-Za-z][0-9A-Za-z.+~-]{0,40})?$")

# Lab addresses: the gateway is host 1, manager-i is host 10+i, worker-j is host 20+j.
MANAGER_HOST_OFFSET = 10
WORKER_HOST_OFFSET = 20


class SettingsError(pulumi.RunError):
    """A refused configuration value.  Pulumi prints only the message, no traceback."""


def refuse(key: str, value: Any, allowed: str) -> SettingsError:
    """The one-line error every refusal uses: key, bad value, what is allowed."""
    shown = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    # A key may come from the user's map keys: control characters shown escaped, the line stays one.
    key = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in key)
    return SettingsError(f"config {NAMESPACE}:{key} = {shown} is refused: {allowed}")


@dataclass(frozen=True)
class LabSettings:
    managers: int
    workers: int
    uri: str
    image: str
    cidr: ipaddress.IPv4Network
    domain_type: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    network_mode: str = "nat"
    kernel: str | None = None  # direct kernel boot: kernel, initrd (URL or local path) and arguments
    initrd: str | None = None
    kernel_args: str | None = None

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.cidr.network_address + 1

    @property
    def hypervisor_ssh(self) -> SshEndpoint | None:
        """For `qemu+ssh://user@host:port/system`, the hypervisor the VMs sit behind."""
        return hypervisor_endpoint(self.uri)


@dataclass(frozen=True)
class SshEndpoint:
    host: str
    user: str | None
    port: int


@dataclass(frozen=True)
class CloudHost:
    name: str
    address: str
    private_address: str | None
    role: str
    user: str | None
    port: int
    host_key: str | None


@dataclass(frozen=True)
class CloudSettings:
    hosts: tuple[CloudHost, ...]
    docker_source: str


@dataclass(frozen=True)
class AcmeSettings:
    """Let's Encrypt (or any ACME CA) through Traefik's certificate resolver `le`."""

    email: str
    challenge: str  # tls (TLS-ALPN-01 on 443) or http (HTTP-01 on 80)
    staging: bool
    ca_server: str | None  # the ACME directory; None: Let's Encrypt (staging when staging is true)
    ca_bundle: str | None  # PEM of the CA that signed the ACME server's own HTTPS certificate
    node: str  # the manager that holds the ACME store (labelled ha-swarm.traefik-acme=true)

    @property
    def directory(self) -> str | None:
        return LETSENCRYPT_STAGING if self.staging else self.ca_server


@dataclass(frozen=True, repr=False)
class Certificate:
    """A certificate the user already has; the key is a secret and never shown."""

    cert: str
    key: str

    def __repr__(self) -> str:
        return "Certificate(cert=..., key=<secret>)"


@dataclass(frozen=True)
class TraefikSettings:
    image: str
    publish_mode: str
    encrypted_network: bool
    dashboard_users: tuple[str, ...]
    acme: AcmeSettings | None
    certificates: tuple[Certificate, ...] = ()
    redirect_https: bool = True

    @property
    def tls(self) -> bool:
        """HTTPS on 443: with ACME, with certificates of the user's own, or both."""
        return self.acme is not None or bool(self.certificates)

    @property
    def global_on_managers(self) -> bool:
        """One Traefik on every manager: with the user's certificates (swarm secrets, replicated by
        Raft) or with port 80 published in host mode. ACME keeps one Traefik next to its store."""
        return self.acme is None and (bool(self.certificates) or self.publish_mode == "host")


@dataclass(frozen=True)
class NodeSpec:
    """A node as planned from the settings, before any machine exists."""

    name: str
    role: str
    ssh_address: str
    swarm_address: str
    user: str
    port: int
    host_key: str | None
    jump: SshEndpoint | None


@dataclass(frozen=True)
class StorageSettings:
    """`storage`: with `nfs`, the lab's first manager serves the folder `export` over NFS."""

    nfs: bool = False
    export: str = DEFAULT_NFS_EXPORT


@dataclass(frozen=True)
class SwarmSettings:
    """`swarm`: day-two care of the swarm itself.

    `rotate_tokens` is a generation, like a trigger: each new value rotates the worker and manager
    join tokens on the next `up` (None: never rotated).  `autolock` locks the managers' Raft keys
    with an unlock key, which a restarted manager needs before it takes part again."""

    rotate_tokens: str | None = None
    autolock: bool = False


@dataclass(frozen=True)
class EngineSettings:
    """`engine`: with `version`, nodes whose Docker Engine is another version are upgraded (or
    downgraded) to it one at a time on the next `up` (ha_swarm/day2/engine.py).  None: never touched."""

    version: str | None = None


@dataclass(frozen=True, eq=False)
class Settings:
    target: str
    lab: LabSettings | None
    cloud: CloudSettings | None
    ssh_user: str
    ssh_public_key: str | None
    ssh_private_key: Any  # a secret pulumi.Output[str]; never a plain value in state
    domain: str
    traefik: TraefikSettings
    stacks: tuple[str, ...]
    stack_variables: tuple[tuple[str, str], ...]
    node_labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    nodes: tuple[NodeSpec, ...]
    storage: StorageSettings = StorageSettings()
    verify: bool = False  # verify.sh as the last step of `pulumi up`
    verify_timeout: int = DEFAULT_VERIFY_TIMEOUT  # how long that step waits for the cluster to converge
    swarm: SwarmSettings = SwarmSettings()
    engine: EngineSettings = EngineSettings()

    @property
    def managers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "manager")

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")

    def labels_for(self, name: str) -> tuple[tuple[str, str], ...]:
        return dict(self.node_labels).get(name, ())

    @property
    def nfs_server(self) -> NodeSpec | None:
        """The node that serves NFS (storage.nfs: the first manager), or None."""
        return self.managers[0] if self.storage.nfs else None

    @property
    def storage_variables(self) -> tuple[tuple[str, str], ...]:
        """${NFS_ADDR} and ${NFS_EXPORT} for the compose files, when storage.nfs is on."""
        server = self.nfs_server
        return (("NFS_ADDR", server.swarm_address), ("NFS_EXPORT", self.storage.export)) if server else ()


# --------------------------------------------------------------------------- helpers


def _object(raw: Any, key: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise refuse(key, raw, "an object (set it with `pulumi config set --path`)")
    return raw


def _unknown_keys(obj: Mapping[str, Any], allowed: Sequence[str], key: str) -> None:
    for k in obj:
        if k not in allowed:
            raise refuse(f"{key}.{k}" if key else k, obj[k], f"unknown key; allowed keys: {', '.join(allowed)}")


def _int(obj: Mapping[str, Any], name: str, key: str, default: int, low: int, high: int | None = None) -> int:
    value = obj.get(name, default)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise refuse(key, value, "a whole number")
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise refuse(key, value, f"a whole number {span}")
    return value


def _bool(obj: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
    value = obj.get(name, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise refuse(key, value, "true or false")
    return value


def _str(obj: Mapping[str, Any], name: str, key: str, default: str | None = None) -> str | None:
    value = obj.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise refuse(key, value, "a non-empty string")
    return value.strip()


def _choice(value: Any, key: str, choices: Sequence[Any], why: str = "") -> Any:
    if value not in choices:
        listed = ", ".join(str(c) for c in choices)
        raise refuse(key, value, f"one of {listed}{why}")
    return value


def _address(value: Any, key: str) -> str:
    """An IP address or a DNS name."""
    if not isinstance(value, str) or not value.strip():
        raise refuse(key, value, "an IPv4/IPv6 address or a DNS name")
    value = value.strip()
    if not _is_host(value):
        raise refuse(key, value, "an IPv4/IPv6 address or a DNS name")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value.lower()


def _is_host(value: str) -> bool:
    """An IP address or a DNS name, whole."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return not re.fullmatch(r"[\d.]+", value) and _DNS_NAME.fullmatch(value.lower()) is not None


def _ip(value: Any, key: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise refuse(key, value, "an IPv4 or IPv6 address (the swarm advertise address)") from None


def _node_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.fullmatch(value):
        raise refuse(key, value, "a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'")
    return value


def hypervisor_endpoint(uri: str) -> SshEndpoint | None:
    match = re.match(r"^qemu\+ssh://(?:([^@/]+)@)?([^:/]+)(?::(\d+))?/", uri)
    if not match:
        return None
    user, host, port = match.groups()
    return SshEndpoint(host=host, user=user, port=int(port) if port else 22)


# --------------------------------------------------------------------------- sections


def _source(value: Any, key: str, allowed: str) -> str:
    """An http(s) URL, or a local file (made absolute)."""
    if not isinstance(value, str) or not value.strip():
        raise refuse(key, value, allowed)
    value = value.strip()
    if re.fullmatch(r"https?://\S+", value):
        return value
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(path):
        raise refuse(key, value, allowed)
    return path


def _kernel_boot(obj: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """Direct kernel boot (for images without a boot loader): kernel and initrd together, and their arguments."""
    given = [k for k in ("kernel", "initrd") if obj.get(k) is not None]
    if not given:
        if obj.get("kernelArgs") is not None:
            raise refuse("lab.kernelArgs", obj.get("kernelArgs"), "kernel arguments only together with lab.kernel and lab.initrd")
        return None, None, None
    if len(given) == 1:
        missing = "initrd" if given == ["kernel"] else "kernel"
        raise refuse(f"lab.{given[0]}", obj.get(given[0]), f"direct kernel boot with lab.{missing} too (both or neither)")
    kernel = _source(obj["kernel"], "lab.kernel", "an http(s) URL or an existing local path of a Linux kernel (vmlinuz)")
    initrd = _source(obj["initrd"], "lab.initrd", "an http(s) URL or an existing local path of an initramfs")
    args = obj.get("kernelArgs", DEFAULT_KERNEL_ARGS)
    if not isinstance(args, str) or not args.strip() or "\n" in args:
        raise refuse("lab.kernelArgs", args, f"one line of kernel arguments, such as {DEFAULT_KERNEL_ARGS!r}")
    return kernel, initrd, " ".join(args.split())


def _lab_auto(raw: Any) -> Mapping[str, Any]:
    obj = _object(raw, "labAuto")
    _unknown_keys(obj, LAB_AUTO_KEYS, "labAuto")
    return obj


def _resolve_auto(obj: Mapping[str, Any], auto: Mapping[str, Any]) -> Mapping[str, Any]:
    """The lab object with `auto` (or nothing) for domainType and image replaced by labAuto's choice;
    an auto image also brings labAuto's direct kernel boot files."""
    resolved = dict(obj)
    for key in ("domainType", "image"):
        if obj.get(key, AUTO) != AUTO:
            continue
        if not auto.get(key):
            raise refuse(
                f"lab.{key}",
                obj.get(key),
                f"{LAB_ALLOWED[key]}, or auto once `make up` or `make preview` has chosen for this stack (python -m tools.lab_auto STACK records the choice as labAuto)",
            )
        resolved[key] = auto[key]
        if key == "image" and auto.get("kernel") and obj.get("kernel") is None:
            resolved |= {k: auto[k] for k in ("kernel", "initrd", "kernelArgs") if auto.get(k)}
    return resolved


def _parse_lab(raw: Any, ssh_user: str, auto: Mapping[str, Any] | None = None) -> tuple[LabSettings, tuple[NodeSpec, ...]]:
    obj = _object(raw, "lab")
    _unknown_keys(obj, LAB_KEYS, "lab")
    obj = _resolve_auto(obj, auto or {})
    managers = _int(obj, "managers", "lab.managers", 1, 0)
    _choice(managers, "lab.managers", MANAGER_COUNTS, " (Raft quorum needs an odd number of managers, at most 7)")
    workers = _int(obj, "workers", "lab.workers", 2, 0)

    uri = _str(obj, "uri", "lab.uri", "qemu:///system")
    assert uri is not None
    if not re.fullmatch(r"qemu(\+ssh|\+tcp|\+tls|\+unix)?://[^\s]*", uri):
        raise refuse("lab.uri", uri, "a libvirt QEMU URI such as qemu:///system or qemu+ssh://user@host/system")
    if uri.startswith("qemu+ssh://"):
        # The user and host reach the Docker provider's ProxyCommand (run by a shell) and ssh's argv.
        ssh = re.fullmatch(r"qemu\+ssh://(?:([^@/]+)@)?([^:/]+)(?::(\d+))?/[^\s]*", uri)
        if ssh is None or (ssh[1] is not None and not _LINUX_USER.fullmatch(ssh[1])) or not _is_host(ssh[2]):
            raise refuse("lab.uri", uri, "qemu+ssh://USER@HOST[:PORT]/system with a Linux user name and a DNS name or IP address as HOST")

    image = _source(obj.get("image"), "lab.image", LAB_ALLOWED["image"])
    kernel, initrd, kernel_args = _kernel_boot(obj)

    cidr_raw = obj.get("cidr", "10.17.3.0/24")
    try:
        cidr = ipaddress.IPv4Network(str(cidr_raw), strict=True)
    except ValueError:
        raise refuse("lab.cidr", cidr_raw, "an IPv4 network in CIDR form with no host bits, such as 10.17.3.0/24") from None
    last_host = cidr.num_addresses - 2
    if WORKER_HOST_OFFSET + workers > last_host or MANAGER_HOST_OFFSET + managers > last_host:
        raise refuse(
            "lab.cidr",
            str(cidr),
            f"a network large enough for {managers} managers and {workers} workers "
            f"(it needs at least {WORKER_HOST_OFFSET + workers + 2} addresses; use a shorter prefix)",
        )

    domain_type = _choice(obj.get("domainType"), "lab.domainType", (*DOMAIN_TYPES, AUTO), " (qemu where there is no KVM)")
    if domain_type == AUTO:
        raise refuse("labAuto.domainType", AUTO, f"what auto stands for: one of {', '.join(DOMAIN_TYPES)}")
    lab = LabSettings(
        managers=managers,
        workers=workers,
        uri=uri,
        image=image,
        cidr=cidr,
        domain_type=domain_type,
        vcpus=_int(obj, "vcpus", "lab.vcpus", 2, 1, 64),
        memory_mib=_int(obj, "memoryMiB", "lab.memoryMiB", 2048, 512),
        disk_gib=_int(obj, "diskGiB", "lab.diskGiB", 20, 4),
        network_mode=_choice(obj.get("networkMode", "nat"), "lab.networkMode", NETWORK_MODES, " (isolated: the VMs reach only each other and this host)"),
        kernel=kernel,
        initrd=initrd,
        kernel_args=kernel_args,
    )
    jump = lab.hypervisor_ssh
    nodes: list[NodeSpec] = []
    for role, count, offset in (("manager", managers, MANAGER_HOST_OFFSET), ("worker", workers, WORKER_HOST_OFFSET)):
        for i in range(1, count + 1):
            address = str(cidr.network_address + offset + i)
            nodes.append(NodeSpec(f"{role}-{i}", role, address, address, ssh_user, 22, None, jump))
    return lab, tuple(nodes)


def _parse_cloud(raw: Any, ssh_user: str) -> tuple[CloudSettings, tuple[NodeSpec, ...]]:
    obj = _object(raw, "cloud")
    _unknown_keys(obj, ("hosts", "dockerSource"), "cloud")
    hosts_raw = obj.get("hosts")
    if not isinstance(hosts_raw, list) or not hosts_raw:
        raise refuse("cloud.hosts", hosts_raw, "a non-empty list of {name, address, role, privateAddress?, user?, port?, hostKey?}")
    hosts: list[CloudHost] = []
    for i, item in enumerate(hosts_raw):
        key = f"cloud.hosts[{i}]"
        if not isinstance(item, Mapping):
            raise refuse(key, item, "an object {name, address, role, privateAddress?, user?, port?, hostKey?}")
        _unknown_keys(item, HOST_KEYS, key)
        name = _node_name(item.get("name"), f"{key}.name")
        address = _address(item.get("address"), f"{key}.address")
        private = item.get("privateAddress")
        private_address = _ip(private, f"{key}.privateAddress") if private is not None else None
        if private_address is None:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise refuse(
                    f"{key}.privateAddress",
                    None,
                    f"an IP address: host {name!r} is reached by the name {address!r}, and the swarm needs an IP to advertise",
                ) from None
        role = _choice(item.get("role"), f"{key}.role", ROLES)
        user = _str(item, "user", f"{key}.user")
        if user is not None and not _LINUX_USER.fullmatch(user):
            raise refuse(f"{key}.user", user, "a Linux user name (lowercase letters, digits, '_' or '-')")
        port = _int(item, "port", f"{key}.port", 22, 1, 65535)
        host_key = _str(item, "hostKey", f"{key}.hostKey")
        if host_key is not None and not _SSH_PUBLIC_KEY.fullmatch(host_key):
            raise refuse(f"{key}.hostKey", host_key, "the host's public key, as in `ssh-keyscan -t ed25519 HOST` without the host name")
        hosts.append(CloudHost(name, address, private_address, role, user, port, host_key))

    managers = sum(1 for h in hosts if h.role == "manager")
    if managers == 0:
        raise refuse("cloud.hosts", [h.name for h in hosts], "a list with at least one host whose role is manager")
    _choice(managers, "cloud.hosts (managers)", MANAGER_COUNTS, " (Raft quorum needs an odd number of managers, at most 7)")
    # Managers first, in the order given: the first manager initialises the swarm.
    ordered = [h for h in hosts if h.role == "manager"] + [h for h in hosts if h.role == "worker"]
    nodes = tuple(NodeSpec(h.name, h.role, h.address, h.private_address or h.address, h.user or ssh_user, h.port, h.host_key, None) for h in ordered)
    source = _choice(obj.get("dockerSource", "distro"), "cloud.dockerSource", DOCKER_SOURCES, " (distribution packages or Docker's repository)")
    return CloudSettings(hosts=tuple(hosts), docker_source=source), nodes


def _pem_head(value: Any) -> Any:
    """A refused PEM value, cut short in the message."""
    return value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value


def _parse_acme(raw: Any, managers: Sequence[str]) -> AcmeSettings:
    obj = _object(raw, "traefik.acme")
    _unknown_keys(obj, ACME_KEYS, "traefik.acme")
    email = _str(obj, "email", "traefik.acme.email")
    if email is None or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise refuse("traefik.acme.email", email, "an e-mail address for the ACME account (Let's Encrypt writes to it about expiring certificates)")
    challenge = _choice(obj.get("challenge", "tls"), "traefik.acme.challenge", ACME_CHALLENGES, " (TLS-ALPN-01 on port 443, or HTTP-01 on port 80)")
    staging = _bool(obj, "staging", "traefik.acme.staging", False)
    ca_server = _str(obj, "caServer", "traefik.acme.caServer")
    if ca_server is not None:
        if not re.fullmatch(r"https://\S+", ca_server):
            raise refuse("traefik.acme.caServer", ca_server, "the https:// URL of an ACME directory, such as https://ca.example.com/acme/directory")
        if staging:
            raise refuse("traefik.acme.caServer", ca_server, "either staging: true (Let's Encrypt's staging CA) or a caServer of your own, not both")
    ca_bundle = obj.get("caBundle")
    if ca_bundle is not None:
        if ca_server is None:
            raise refuse("traefik.acme.caBundle", "<PEM>", "a CA bundle only together with traefik.acme.caServer (the CA that signed that server's HTTPS certificate)")
        if not isinstance(ca_bundle, str) or not _PEM_CERTIFICATE.search(ca_bundle):
            raise refuse("traefik.acme.caBundle", _pem_head(ca_bundle), "PEM text with one or more -----BEGIN CERTIFICATE----- blocks")
        ca_bundle = ca_bundle.strip() + "\n"
    node = obj.get("node", managers[0] if managers else None)
    if node not in managers:
        raise refuse("traefik.acme.node", node, f"the name of a manager, which keeps the ACME store: {', '.join(managers)}")
    return AcmeSettings(email, challenge, staging, ca_server, ca_bundle, node)


def _parse_certificates(raw: Any, secret: bool) -> tuple[Certificate, ...]:
    if raw is None:
        return ()
    shape = "a list of {cert, key} objects: PEM certificate (chain) and PEM private key"
    if not isinstance(raw, list) or not raw:
        raise refuse("traefik.certificates", "<hidden>", shape)
    result = []
    for i, item in enumerate(raw):
        key = f"traefik.certificates[{i}]"
        if not isinstance(item, Mapping):
            raise refuse(key, "<hidden>", shape)
        for k in item:
            if k not in CERTIFICATE_KEYS:
                raise refuse(f"{key}.{k}", "<hidden>", f"unknown key; allowed keys: {', '.join(CERTIFICATE_KEYS)}")
        cert, private = item.get("cert"), item.get("key")
        if not isinstance(cert, str) or not _PEM_CERTIFICATE.search(cert):
            raise refuse(f"{key}.cert", _pem_head(cert), "PEM text: the certificate, then its intermediates (-----BEGIN CERTIFICATE-----)")
        if not isinstance(private, str) or not _PEM_PRIVATE_KEY.search(private):
            # The value is a private key: never echo it.
            raise refuse(f"{key}.key", "<hidden>", "PEM text of the certificate's private key (-----BEGIN PRIVATE KEY-----)")
        if not secret:
            raise refuse(
                f"{key}.key",
                "<hidden>",
                f"a secret: pulumi config set --secret --path '{NAMESPACE}:{key}.key' < key.pem (the whole traefik object is then kept encrypted)",
            )
        result.append(Certificate(cert.strip() + "\n", private.strip() + "\n"))
    return tuple(result)


def _parse_traefik(raw: Any, managers: Sequence[str] = ("manager-1",), secret: bool = False) -> TraefikSettings:
    obj = _object(raw, "traefik")
    _unknown_keys(obj, TRAEFIK_KEYS, "traefik")
    image = _str(obj, "image", "traefik.image", DEFAULT_TRAEFIK_IMAGE)
    assert image is not None
    publish_mode = _choice(obj.get("publishMode", "ingress"), "traefik.publishMode", PUBLISH_MODES)
    dashboard = _object(obj.get("dashboard"), "traefik.dashboard")
    _unknown_keys(dashboard, DASHBOARD_KEYS, "traefik.dashboard")
    users_raw = dashboard.get("users", [])
    if not isinstance(users_raw, list):
        raise refuse("traefik.dashboard.users", "<hidden>", "a list of bcrypt htpasswd lines (htpasswd -nbB user password)")
    for i, line in enumerate(users_raw):
        if not isinstance(line, str) or not _HTPASSWD_BCRYPT.fullmatch(line.strip()):
            # The value is a credential: never echo it.
            raise refuse(f"traefik.dashboard.users[{i}]", "<hidden>", "a bcrypt htpasswd line user:$2y$... (htpasswd -nbB user password)")
    acme = _parse_acme(obj["acme"], managers) if obj.get("acme") is not None else None
    certificates = _parse_certificates(obj.get("certificates"), secret)
    redirect = obj.get("redirectHttps")
    if redirect is not None and acme is None and not certificates:
        raise refuse("traefik.redirectHttps", redirect, "only together with traefik.acme or traefik.certificates (without them there is no HTTPS to redirect to)")
    redirect_https = _bool(obj, "redirectHttps", "traefik.redirectHttps", True)
    encrypted = _bool(obj, "encryptedNetwork", "traefik.encryptedNetwork", False)
    return TraefikSettings(image, publish_mode, encrypted, tuple(u.strip() for u in users_raw), acme, certificates, redirect_https)


def _parse_stacks(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ("stacks/demo.yml",)
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise refuse("stacks", raw, "a list of compose file paths, such as [stacks/demo.yml]")
    for path in raw:
        if not re.search(r"\.ya?ml$", path):
            raise refuse("stacks", path, "compose files ending in .yml or .yaml")
    return tuple(s.strip() for s in raw)


def _scalar_text(value: Any, key: str) -> str:
    """A string, number or boolean value as text (booleans as true/false, the way YAML writes them)."""
    if isinstance(value, (Mapping, list)) or value is None:
        raise refuse(key, value, "a string, number or boolean value")
    return str(value).lower() if isinstance(value, bool) else str(value)


_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Provided by the program itself (ha_swarm/apps/stacks.py); a stack variable may not redefine them.
RESERVED_STACK_VARIABLES = ("DOMAIN",)


def _with_carried_images(raw: Mapping[str, Any], target: str) -> Mapping[str, Any]:
    """With a lab image that carries the demo's container images (labAuto, when the VMs cannot pull):
    Traefik and the demo run from those, unless traefik.image or stackVariables name others. The
    visualizer's own image is not carried: its service runs whoami's in its place (tools/lab_auto.py
    says so when it chooses)."""
    auto = raw.get("labAuto")
    if target != "lab" or not isinstance(auto, Mapping) or not auto.get("whoamiImage") or not auto.get("traefikImage"):
        return raw
    traefik = raw.get("traefik")
    variables = raw.get("stackVariables")
    if (traefik is not None and not isinstance(traefik, Mapping)) or (variables is not None and not isinstance(variables, Mapping)):
        return raw  # refused by their own parsers, with their own messages
    return {
        **raw,
        "traefik": {"image": auto["traefikImage"], **(traefik or {})},
        "stackVariables": {"WHOAMI_IMAGE": auto["whoamiImage"], "VISUALIZER_IMAGE": auto["whoamiImage"], **(variables or {})},
    }


def _parse_stack_variables(raw: Any) -> tuple[tuple[str, str], ...]:
    """`stackVariables`: extra ${NAME} values for the compose files (image references, for example)."""
    obj = _object(raw, "stackVariables")
    pairs = []
    for name, value in obj.items():
        if not _VARIABLE_NAME.fullmatch(str(name)):
            raise refuse(f"stackVariables.{name}", value, "a variable name of letters, digits and '_', not starting with a digit")
        if name in RESERVED_STACK_VARIABLES:
            raise refuse(f"stackVariables.{name}", value, f"a name other than {', '.join(RESERVED_STACK_VARIABLES)}, which the program sets from its own settings")
        pairs.append((str(name), _scalar_text(value, f"stackVariables.{name}")))
    return tuple(sorted(pairs))


def _parse_node_labels(raw: Any, names: Sequence[str]) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    obj = _object(raw, "nodeLabels")
    result = []
    for node, labels in obj.items():
        if node not in names:
            raise refuse(f"nodeLabels.{node}", labels, f"labels for a node of this stack: {', '.join(names)}")
        if not isinstance(labels, Mapping):
            raise refuse(f"nodeLabels.{node}", labels, "a map of label name to value")
        pairs = []
        for k, v in labels.items():
            if not _LABEL_KEY.fullmatch(str(k)) or str(k).startswith("ha-swarm."):
                raise refuse(f"nodeLabels.{node}.{k}", v, "a label name of letters, digits, '.', '_', '-' (the ha-swarm. prefix is reserved)")
            pairs.append((str(k), _scalar_text(v, f"nodeLabels.{node}.{k}")))
        result.append((node, tuple(sorted(pairs))))
    return tuple(sorted(result))


_EXPORT_ALLOWED = "an absolute folder path of plain names such as /srv/nfs (letters, digits, '.', '_', '-'), not / or a system folder (/etc, /usr, /var/lib/docker...)"


def _parse_storage(raw: Any, target: str, stack_variables: Any) -> StorageSettings:
    """`storage`: `nfs` (the lab's first manager serves NFS) and its `export` folder."""
    obj = _object(raw, "storage")
    _unknown_keys(obj, STORAGE_KEYS, "storage")
    nfs = _bool(obj, "nfs", "storage.nfs", False)
    if nfs and target != "lab":
        raise refuse(
            "storage.nfs",
            True,
            "a lab option only (the first lab VM serves NFS); on target cloud, point the volumes' driver_opts at your own NFS server "
            "(o: addr=..., device: :/export), for example through stackVariables NFS_ADDR and NFS_EXPORT",
        )
    export = obj.get("export", DEFAULT_NFS_EXPORT)
    if "export" in obj and not nfs:
        raise refuse("storage.export", export, "an export folder only together with storage.nfs: true")
    steps = export.split("/")[1:] if isinstance(export, str) and export.startswith("/") else []
    plain = bool(steps) and all(re.fullmatch(r"[A-Za-z0-9._-]+", step) and step not in (".", "..") for step in steps)
    if not plain or any(export == f or export.startswith(f + "/") for f in _SYSTEM_FOLDERS):
        raise refuse("storage.export", export, _EXPORT_ALLOWED)
    if nfs and isinstance(stack_variables, Mapping):
        for name in ("NFS_ADDR", "NFS_EXPORT"):
            if name in stack_variables:
                raise refuse(f"stackVariables.{name}", stack_variables[name], f"no {name} while storage.nfs is on: the program sets it (the first manager's NFS server)")
    return StorageSettings(nfs=nfs, export=export)


_GENERATION_ALLOWED = (
    "a generation: a whole number or a short word (letters, digits, '.', '_', ':', '+', '-'; at most 64), "
    "such as 1 or 2026-03; each new value rotates the join tokens on the next up"
)


def _parse_swarm(raw: Any) -> SwarmSettings:
    """`swarm`: `rotateTokens` (a generation) and `autolock`."""
    obj = _object(raw, "swarm")
    _unknown_keys(obj, SWARM_KEYS, "swarm")
    generation = obj.get("rotateTokens")
    if generation is not None:
        if isinstance(generation, bool) or not isinstance(generation, (int, str)):
            raise refuse("swarm.rotateTokens", generation, _GENERATION_ALLOWED)
        generation = str(generation).strip()
        if not _GENERATION.fullmatch(generation):
            raise refuse("swarm.rotateTokens", obj.get("rotateTokens"), _GENERATION_ALLOWED)
    return SwarmSettings(rotate_tokens=generation, autolock=_bool(obj, "autolock", "swarm.autolock", False))


_ENGINE_VERSION_ALLOWED = (
    "a Docker Engine version as `docker version` reports it: three numbers such as 27.3.1, optionally with a distribution suffix such as 20.10.24+dfsg1"
)


def _parse_engine(raw: Any) -> EngineSettings:
    """`engine`: `version`, the Docker Engine every node should run (rolling upgrades)."""
    obj = _object(raw, "engine")
    _unknown_keys(obj, ENGINE_KEYS, "engine")
    version = obj.get("version")
    if version is None:
        return EngineSettings()
    if not isinstance(version, str) or not _ENGINE_VERSION.fullmatch(version.strip()):
        raise refuse("engine.version", version, _ENGINE_VERSION_ALLOWED)
    return EngineSettings(version=version.strip())


# --------------------------------------------------------------------------- entry points


def parse_settings(raw: Mapping[str, Any], secret_keys: Sequence[str] = ()) -> Settings:
    """Validate the raw config values of the namespace and build the Settings.

    `secret_keys`: the keys of the namespace that the stack keeps encrypted (pulumi config --secret).
    """
    _unknown_keys(raw, TOP_LEVEL_KEYS, "")
    target = _choice(raw.get("target") or "lab", "target", TARGETS)
    ssh_user = _str(raw, "sshUser", "sshUser", "swarm")
    assert ssh_user is not None
    if not _LINUX_USER.fullmatch(ssh_user):
        raise refuse("sshUser", ssh_user, "a Linux user name (lowercase letters, digits, '_' or '-')")

    private_key = raw.get("sshPrivateKey")
    if private_key is None or (isinstance(private_key, str) and not private_key.strip()):
        raise refuse(
            "sshPrivateKey",
            None,
            "a private key, set as a secret: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
        )

    public_key = raw.get("sshPublicKey") or None
    if public_key is not None and (not isinstance(public_key, str) or not _SSH_PUBLIC_KEY.fullmatch(public_key.strip())):
        raise refuse("sshPublicKey", public_key, "an OpenSSH public key line (ssh-ed25519 AAAA... comment)")

    lab = None
    cloud = None
    if target == "lab":
        if public_key is None:
            raise refuse("sshPublicKey", None, 'an OpenSSH public key line, installed on the lab VMs: pulumi config set sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"')
        lab, nodes = _parse_lab(raw.get("lab"), ssh_user, _lab_auto(raw.get("labAuto")))
    else:
        cloud, nodes = _parse_cloud(raw.get("cloud"), ssh_user)

    names = [n.name for n in nodes]
    for name in names:
        if names.count(name) > 1:
            raise refuse("cloud.hosts", names, f"unique node names ({name!r} appears {names.count(name)} times)")
    swarm_addresses = [n.swarm_address for n in nodes]
    for address in swarm_addresses:
        if swarm_addresses.count(address) > 1:
            raise refuse("cloud.hosts", swarm_addresses, f"one host per swarm address ({address} appears twice)")

    domain = _str(raw, "domain", "domain", "traefik")
    assert domain is not None
    if not _DNS_NAME.fullmatch(domain):
        raise refuse("domain", domain, "a DNS name such as traefik or example.com")

    carried = _with_carried_images(raw, target)  # Traefik and the demo from the images a lab carries
    return Settings(
        target=target,
        lab=lab,
        cloud=cloud,
        ssh_user=ssh_user,
        ssh_public_key=public_key.strip() if public_key else None,
        ssh_private_key=private_key,
        domain=domain,
        traefik=_parse_traefik(carried.get("traefik"), [n.name for n in nodes if n.role == "manager"], "traefik" in secret_keys),
        stacks=_parse_stacks(raw.get("stacks")),
        stack_variables=_parse_stack_variables(carried.get("stackVariables")),
        node_labels=_parse_node_labels(raw.get("nodeLabels"), names),
        nodes=nodes,
        storage=_parse_storage(raw.get("storage"), target, raw.get("stackVariables")),
        verify=_bool(raw, "verify", "verify", False),
        verify_timeout=_int(raw, "verifyTimeout", "verifyTimeout", DEFAULT_VERIFY_TIMEOUT, 1, 3600),
        swarm=_parse_swarm(raw.get("swarm")),
        engine=_parse_engine(raw.get("engine")),
    )


def _namespace_keys() -> list[str]:
    """Every key that the stack sets in the ha-swarm namespace (to refuse typos)."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    return sorted(k[len(prefix) :] for k in keys if k.startswith(prefix))


_OBJECT_KEYS = ("lab", "labAuto", "cloud", "traefik", "stacks", "stackVariables", "nodeLabels", "storage", "swarm", "engine")


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
            raise refuse(key, config.get(key), "valid JSON for an object or list value") from None
        except json.JSONDecodeError:
            raise refuse(key, config.get(key), "valid JSON for an object or list value") from None
    raw["sshPrivateKey"] = config.get_secret("sshPrivateKey")
    from pulumi.runtime import config as runtime_config

    secret_keys = [key for key in raw if runtime_config.is_config_secret(f"{NAMESPACE}:{key}")]
    return parse_settings(raw, secret_keys)
