"""The settings model: frozen dataclasses whose field defaults are the defaults of the stack
configuration (written here once; Pulumi.yaml's schema and docs/configuration.md agree with them,
tests/unit/test_defaults.py checks it)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ha_swarm.nodes.node import NodeSpec, SshEndpoint

NAMESPACE = "ha-swarm"

TARGETS = ("lab", "cloud")
MANAGER_COUNTS = (1, 3, 5, 7)
DOMAIN_TYPES = ("kvm", "qemu")
# `auto` (the default of lab.domainType and lab.image) stands for what tools/lab_auto.py chose for the
# stack (`make up` runs it) and recorded as `labAuto`.
AUTO = "auto"
# The lab keys whose default is AUTO (absent counts as auto).
AUTO_BY_DEFAULT = ("domainType", "image")
LAB_AUTO_KEYS = ("domainType", "image", "kernel", "initrd", "kernelArgs", "traefikImage", "whoamiImage", "socketProxyImage")
ROLES = ("manager", "worker")
DOCKER_SOURCES = ("distro", "docker")
PUBLISH_MODES = ("ingress", "host")
NETWORK_MODES = ("nat", "isolated")
ACME_CHALLENGES = ("tls", "http", "dns")
# traefik.acme.issuer: `node`, one Traefik next to its store on one manager (the single-Traefik mode);
# `swarm`, one issuer at a time on any manager, its store replicated, Traefik on every manager.
ACME_ISSUERS = ("node", "swarm")
# The image of traefik.acme.issuer: swarm (Traefik and toolchain/traefik-acme, built by toolchain/build.sh --only traefik,acme).
DEFAULT_ACME_IMAGE = "ha-swarm/traefik-acme:v3.6.12-3"

DEFAULT_TRAEFIK_IMAGE = "traefik:v3.6.1"
# The filtering proxy between Traefik (and the visualizer) and the Docker API: an established image
# that reads SERVICES=1, TASKS=1, ... and refuses every write (ha_swarm/ingress/docker_api.py).
DEFAULT_SOCKET_PROXY_IMAGE = "ghcr.io/tecnativa/docker-socket-proxy:v0.4.0"
# The kernel command line of a direct kernel boot when lab.kernelArgs is not given.
DEFAULT_KERNEL_ARGS = "root=/dev/vda rw console=ttyS0"
# Seconds the `verify: true` step of `pulumi up` waits for failing checks to pass.
DEFAULT_VERIFY_TIMEOUT = 60
DEFAULT_NFS_EXPORT = "/srv/nfs"
# traefik.dashboard.allowHttp: dashboard users without HTTPS only when asked for (no field: the
# Traefik settings' repr, which the verify trigger hashes, stays as it is).
DEFAULT_DASHBOARD_ALLOW_HTTP = False
DEFAULT_LAB_CIDR = ipaddress.IPv4Network("10.17.3.0/24")
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"

# Lab addresses: the gateway is host 1, manager-i is host 10+i, worker-j is host 20+j.
MANAGER_HOST_OFFSET = 10
WORKER_HOST_OFFSET = 20


# The order of the fields is part of the promise to deployed stacks: the repr of the Traefik settings
# goes into the trigger of the verify step (ha_swarm/day2/verify.py), so keep it as it is.


@dataclass(frozen=True, kw_only=True)
class LabSettings:
    image: str
    managers: int = 1
    workers: int = 2
    uri: str = "qemu:///system"
    cidr: ipaddress.IPv4Network = DEFAULT_LAB_CIDR
    domain_type: str  # kvm or qemu; `auto` is resolved through labAuto before the model is built
    vcpus: int = 2
    memory_mib: int = 2048
    disk_gib: int = 20
    network_mode: str = "nat"
    kernel: str | None = None  # direct kernel boot: kernel, initrd (URL or local path) and arguments
    initrd: str | None = None
    kernel_args: str | None = None
    host_key: str | None = None  # the qemu+ssh hypervisor's SSH host key (else recorded at the first contact)

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.cidr.network_address + 1

    @property
    def hypervisor_ssh(self) -> SshEndpoint | None:
        """For `qemu+ssh://user@host:port/system`, the hypervisor the VMs sit behind."""
        return hypervisor_endpoint(self.uri, self.host_key)


@dataclass(frozen=True, kw_only=True)
class CloudHost:
    name: str
    address: str
    role: str
    private_address: str | None = None
    user: str | None = None
    port: int = 22
    host_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class CloudSettings:
    hosts: tuple[CloudHost, ...]
    docker_source: str = "distro"


@dataclass(frozen=True, kw_only=True)
class AcmeDns:
    """traefik.acme.dns: DNS-01 through one of lego's DNS providers (the ones Traefik ships).
    The provider's variables are credentials: out of every repr, swarm secrets on the nodes."""

    provider: str  # lego's name of the provider: cloudflare, route53, ovh, httpreq...
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (NAME, value), sorted by NAME
    resolvers: tuple[str, ...] = ()  # host:port of the recursive resolvers lego asks (Traefik's dnschallenge.resolvers)
    disable_ans_checks: bool = False  # Traefik's propagation.disableANSChecks
    delay_before_checks: int | None = None  # seconds; Traefik's propagation.delayBeforeChecks


@dataclass(frozen=True, kw_only=True)
class AcmeSettings:
    """Let's Encrypt (or any ACME CA) through Traefik's certificate resolver `le`."""

    email: str
    challenge: str = "tls"  # tls (TLS-ALPN-01 on 443), http (HTTP-01 on 80) or dns (DNS-01 through traefik.acme.dns)
    staging: bool = False
    ca_server: str | None = None  # the ACME directory; None: Let's Encrypt (staging when staging is true)
    ca_bundle: str | None = None  # PEM of the CA that signed the ACME server's own HTTPS certificate
    # The manager that holds the ACME store (issuer: node: labelled ha-swarm.traefik-acme=true; issuer: swarm:
    # the store the issuer starts from when none is published comes from its traefik-acme volume); default: the first manager.
    node: str
    # Out of the repr (which the verify step's trigger hashes): stacks of the single-Traefik mode keep theirs.
    issuer: str = field(default="node", repr=False)  # node or swarm (ACME_ISSUERS)
    image: str = field(default=DEFAULT_ACME_IMAGE, repr=False)  # the issuer/serving image with issuer: swarm
    # Traefik's certificatesDuration, in hours: how long the CA's certificates last, from which Traefik
    # derives when to renew (30 days before expiry for 90-day certificates, 2 days for 6-day ones...).
    # None: Traefik's own default (2160, Let's Encrypt's 90 days), and no flag at all.
    certificates_duration: int | None = field(default=None, repr=False)
    dns: AcmeDns | None = field(default=None, repr=False)  # challenge: dns

    @property
    def replicated(self) -> bool:
        """issuer: swarm: one issuer at a time, its store replicated through the swarm, Traefik on every manager."""
        return self.issuer == "swarm"

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


@dataclass(frozen=True, kw_only=True)
class TraefikSettings:
    image: str = DEFAULT_TRAEFIK_IMAGE
    publish_mode: str = "ingress"
    encrypted_network: bool = False
    dashboard_users: tuple[str, ...] = ()
    acme: AcmeSettings | None = None
    certificates: tuple[Certificate, ...] = ()
    redirect_https: bool = True
    socket_proxy_image: str = DEFAULT_SOCKET_PROXY_IMAGE  # the Docker API proxy Traefik asks

    @property
    def tls(self) -> bool:
        """HTTPS on 443: with ACME, with certificates of the user's own, or both."""
        return self.acme is not None or bool(self.certificates)

    @property
    def global_on_managers(self) -> bool:
        """One Traefik on every manager: with the user's certificates (swarm secrets, replicated by
        Raft) or with port 80 published in host mode, and with ACME's replicated store (issuer: swarm).
        ACME with issuer: node keeps one Traefik next to its store."""
        if self.acme is not None:
            return self.acme.replicated
        return bool(self.certificates) or self.publish_mode == "host"


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
    # Recorded by `make restore` (tools/restore.py): the generation of the restored swarm.  Each new
    # value joins every node but the first manager again on the next `up` (ha_swarm/swarm/swarm.py).
    restored: str | None = None
    restored_on: str | None = None  # the manager the backup was restored on (it kept its membership)


DEFAULT_BACKUP_KEEP = 7


DEFAULT_BACKUP_NODE_DIR = "/var/backups/ha-swarm"


@dataclass(frozen=True)
class BackupSettings:
    """`backup`: `keep`: the last N archives kept (here and on each manager); `dir`: where `make
    backup` and `make backup-pull` put them (None: $HA_SWARM_CACHE/backups/<stack>).  `schedule`: a
    systemd calendar expression; with it, every manager gets a timer whose job backs up on one of
    them (ha_swarm/day2/backup_schedule.py) into `node_dir`.  The archives' key is the secret
    `backupKey`; the nodes get its public recipient only."""

    keep: int = DEFAULT_BACKUP_KEEP
    dir: str | None = None
    schedule: str | None = None
    node_dir: str = DEFAULT_BACKUP_NODE_DIR
    recipient: str | None = None  # with a schedule: backupKey's public recipient (age1...), not secret


@dataclass(frozen=True)
class EngineSettings:
    """`engine`: with `version`, nodes whose Docker Engine is another version are upgraded (or
    downgraded) to it one at a time on the next `up` (ha_swarm/day2/engine.py).  None: never touched."""

    version: str | None = None


@dataclass(frozen=True)
class StackEntry:
    """One entry of `stacks`: a compose file (a plain path is an entry with only `file`), the stack's
    name (else the file's stem), its own variables (over stackVariables; DOMAIN too), and the content
    of the external configs and secrets it uses (Docker name -> file path)."""

    file: str
    name: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    configs: tuple[tuple[str, str], ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, eq=False, kw_only=True)
class Settings:
    ssh_private_key: Any  # a secret pulumi.Output[str]; never a plain value in state
    nodes: tuple[NodeSpec, ...]
    target: str = "lab"
    lab: LabSettings | None = None
    cloud: CloudSettings | None = None
    ssh_user: str = "swarm"
    ssh_public_key: str | None = None
    domain: str = "traefik"
    traefik: TraefikSettings = field(default_factory=TraefikSettings)
    stacks: tuple[StackEntry, ...] = (StackEntry("stacks/demo.yml"),)
    stack_variables: tuple[tuple[str, str], ...] = ()
    node_labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    storage: StorageSettings = StorageSettings()
    verify: bool = False  # verify.sh as the last step of `pulumi up`
    verify_timeout: int = DEFAULT_VERIFY_TIMEOUT  # how long that step waits for the cluster to converge
    swarm: SwarmSettings = SwarmSettings()
    engine: EngineSettings = EngineSettings()
    backup: BackupSettings = BackupSettings()
    # The key of the digests in the names of the stacks' secrets, derived from sshPrivateKey (a one-way
    # hash of it): a secret's name says nothing of its data to whoever reads the names.
    secret_names_key: bytes = field(default=b"", repr=False)

    @property
    def managers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "manager")

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")

    def labels_for(self, name: str) -> tuple[tuple[str, str], ...]:
        return dict(self.node_labels).get(name, ())


# qemu+ssh://[USER@]HOST[:PORT]/PATH: the one grammar of an ssh libvirt URI (the lab settings check
# its user and host whole; the hypervisor endpoint is read from it).
QEMU_SSH_URI = re.compile(r"qemu\+ssh://(?:([^@/]+)@)?([^:/]+)(?::(\d+))?/[^\s]*")


def hypervisor_endpoint(uri: str, host_key: str | None = None) -> SshEndpoint | None:
    match = QEMU_SSH_URI.fullmatch(uri)
    if not match:
        return None
    user, host, port = match.groups()
    return SshEndpoint(host=host, user=user, port=int(port) if port else 22, host_key=host_key)
