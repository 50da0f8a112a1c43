"""Rolling Docker Engine upgrades (setting `engine.version`), one node at a time.

Per node, three remote commands, each with the version among its triggers, so a new version runs
them all again (a node already at the version passes through in seconds):

    drain     (first manager)  engine-drain.sh NAME VERSION: nothing if the node runs VERSION;
                               a manager only with a leader and a majority left while it restarts;
                               availability drain, wait until its tasks stopped
    install   (the node, root) engine-install.sh VERSION: the package of that version from the
                               node's own package source, daemon restarted, answering with VERSION
    activate  (first manager)  engine-activate.sh NAME VERSION: wait Ready (a manager: reachable)
                               at VERSION, availability active again, wait until the services run
                               all their tasks

The nodes go strictly one after another: the other managers first, in order, then the first
manager (whose steps run on itself: it drains itself, restarts, and then waits for its own Raft to
answer), then the workers, in order.  Each node's drain waits for the previous node's activate, so
a failure stops the chain there: Pulumi creates nothing that depends on a failed command, the node
in trouble stays drained, the others serve, and the next `up` resumes at the failed step (a failed
command is not recorded; every step is idempotent).

The whole chain waits for the swarm, Traefik and the stacks (`depends_on`): the Docker provider talks to
the first manager's daemon, which restarts during its upgrade, so no provider operation may be in
flight then.  An `up` that changes only `engine.version` changes nothing for the provider.  Nodes
are found by their label `ha-swarm.name` (set by the settle step), not by an ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from ha_swarm.nodes.node import Node
from ha_swarm.nodes.remote import Step, run_script


def upgrade_order(nodes: Sequence[Node], first: Node) -> list[Node]:
    """The other managers in order, then the first manager, then the workers in order."""
    others = [n for n in nodes if n.role == "manager" and n is not first]
    workers = [n for n in nodes if n.role != "manager"]
    return [*others, first, *workers]


@dataclass(frozen=True, kw_only=True)
class EngineUpgradesArgs:
    nodes: Sequence[Node]
    first_manager: Node  # drives every step (and upgrades after the other managers)
    version: str  # engine.version
    depends_on: Sequence[pulumi.Resource]  # everything the Docker provider does


class EngineUpgrades(pulumi.ComponentResource):
    def __init__(self, name: str, args: EngineUpgradesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:engine:EngineUpgrades", name, None, opts)
        version, first = args.version, args.first_manager
        order = upgrade_order(args.nodes, first)
        trigger = f"engine:{version}"
        previous: Sequence[pulumi.Resource] = list(args.depends_on)
        self.steps: list[remote.Command] = []
        for node in order:
            triggers = [trigger, *node.triggers]
            drain = run_script(
                f"{node.name}-engine-drain",
                first.connection,
                Step("engine-drain.sh", (node.name, version)),
                parent=self,
                depends_on=previous,
                triggers=triggers,
            )
            install = run_script(
                f"{node.name}-engine-install",
                node.connection,
                Step("engine-install.sh", (version,), as_root=node.user != "root"),
                parent=self,
                depends_on=[drain],
                triggers=triggers,
            )
            activate = run_script(
                f"{node.name}-engine-activate",
                first.connection,
                Step("engine-activate.sh", (node.name, version)),
                parent=self,
                depends_on=[install],
                triggers=triggers,
            )
            self.steps += [drain, install, activate]
            previous = [activate]
        # The last activate: whatever must see every node at the version waits for it.
        self.done: remote.Command = self.steps[-1]
        self.register_outputs({"version": version, "order": [n.name for n in order]})
