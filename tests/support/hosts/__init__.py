"""Test hosts on this machine: each with its own network address, Docker daemon and SSH server.

Why namespaces and not privileged containers: the machine's own ``docker.io``, ``openssh-server``
and ``sudo`` are the software under test, and no image can be pulled here.  A host is a set of
Linux namespaces around processes of this machine, which costs a few megabytes and starts in
seconds; a privileged container would need a Debian image debootstrapped and imported first.

A host ``NAME`` (with ``prefix`` ``hs-``: ``hs-m1`` ... ``hs-m3``, ``hs-w1``, ``hs-w2``, at
``SUBNET`` = 10.231.78.11-13 and .21-22; state in ``STATE_DIR`` = /tmp/hs-hosts) is:

* a network namespace ``hs-NAME`` whose ``eth0`` (``SUBNET.x/24``) is one end of a veth pair; the
  other end is a port of the bridge ``br0``, which lives in the namespace ``hs-net``: the
  machine's interfaces, routes and netfilter rules are never touched, and neither is its sshd;
* a holder process: ``nsenter --net`` into that namespace, then ``unshare --mount --uts --pid
  --fork --mount-proc --propagation private``; inside, per-host directories of the state dir are
  bind-mounted over ``/etc`` (a copy of the machine's, so users, groups, sudoers, the host name and
  the sshd config are per host and ``useradd``/``usermod`` may rename files there), ``/run``
  (so ``/var/run/docker.sock`` is the host's own, for SSH sessions and for containers alike),
  ``/root``, ``/home`` and ``/var/log`` (so the machine's /root, with whatever lives there, is not
  visible inside a host).  Its PID 1 is tini (or a small reaper); killing it kills every
  process of the host, containers included, and the private mount namespace disappears with
  them, so no mount of a host is ever visible on the machine;
* its own ``dockerd`` (``--iptables=false --ip6tables=false --ip-masq=false --bridge=none``, vfs
  storage, an empty ``daemon.json``, data under the state dir) and its own ``sshd`` on
  ``ADDRESS:22`` (own ed25519 host key, keys only, ``UsePAM no``), both started with
  ``nsenter --target HOLDER --mount --uts --net --pid``;
* the user ``swarm`` (passwordless sudo, in the ``docker`` group on every host except
  ``NO_DOCKER_GROUP`` = ``w2``, left out for the preparation test), and ``root``; both accept the
  key pair the harness generates (``STATE_DIR/id_ed25519``).

The bridge has no address on the machine: SSH clients run in the namespace ``hs-ctl`` (address
``SUBNET.2``): ``Harness.ssh()`` does that, and by hand ``ip netns exec hs-ctl ssh ...``.

Teardown (``down``), also of the leftovers of a killed run (the namespaces named ``PREFIX`` + a
name without '-', such as hs-m1, hs-net, hs-ctl): SIGKILL to every process in them (the PID 1s
take their hosts' processes with them), a lazy unmount of anything left below the state dir
(deepest first; normally nothing: the hosts' mounts live in their own mount namespaces), the
namespaces deleted (with them the veths and the bridge), the state dir removed.  The pytest
fixture and the command line tear down on an exception, at exit and on SIGINT/SIGTERM/SIGHUP.

Command line (as root), from the repository root::

    python -m tests.support.hosts up [N]   # N hosts (default 5), kept running
    python -m tests.support.hosts status
    python -m tests.support.hosts ssh NAME [COMMAND...]   # as swarm; -u root for root
    python -m tests.support.hosts down
"""

from tests.support.hosts.common import IMAGE, SSH_OPTIONS, SSH_USER, STATE_DIR, HarnessError
from tests.support.hosts.harness import Harness, TeardownGuard
from tests.support.hosts.host import Host, HostSpec, default_specs
from tests.support.hosts.image import IMPORT_CHANGES, build_hostname_http, rootfs_tar
from tests.support.hosts.prerequisites import ensure_packages, find_tool
from tests.support.hosts.processes import children, cleanup

__all__ = [
    "IMAGE",
    "IMPORT_CHANGES",
    "SSH_OPTIONS",
    "SSH_USER",
    "STATE_DIR",
    "Harness",
    "HarnessError",
    "Host",
    "HostSpec",
    "TeardownGuard",
    "build_hostname_http",
    "children",
    "cleanup",
    "default_specs",
    "ensure_packages",
    "find_tool",
    "rootfs_tar",
]
