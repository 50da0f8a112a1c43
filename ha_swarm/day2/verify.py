"""The opt-in last step of `pulumi up` (setting `verify: true`): `scripts/verify.sh` on the first
manager once the swarm, Traefik and the stacks are in place, so that a deploy that does not serve
fails the `up` with the table of what failed.

The command runs again on every `up` that changes anything it checks.  Its trigger is a digest of
its plan and arguments, of what the program declares for the services and the nodes (plain values)
and of the ids of the watched resources (every service, every node's settle command: a replaced
one gets a new id); a change replaces it, and it is deleted before its replacement runs, so a
failed verify leaves no `verify` in the state and the next `up` runs it again (also after a change
undone).  Resource outputs other than ids are left out on purpose: in a preview, an output that a
resource does not set is unknown even when nothing changes, which would make every preview show
verify replaced.  An `up` that changes nothing does not run it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from ha_swarm.apps.compose.model import StackSpec
from ha_swarm.config.model import TraefikSettings
from ha_swarm.day2.verify_plan import verify_plan
from ha_swarm.nodes.node import Node, NodeSpec
from ha_swarm.nodes.remote import Step, run_script
from ha_swarm.outputs import endpoints, node_list, services


def _digest(values: Any) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class VerifyArgs:
    manager: Node  # verify.sh runs there
    nodes: Sequence[Node]
    specs: Sequence[StackSpec]
    traefik: TraefikSettings
    domain: str
    planned: Sequence[NodeSpec]  # the nodes as planned (their values count in the trigger)
    node_labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # nodeLabels
    timeout: int  # verifyTimeout: seconds to wait for failing checks to pass
    depends_on: Sequence[pulumi.CustomResource]  # what it checks: their ids count in the trigger


def declared_state(args: VerifyArgs) -> str:
    """A digest of what the program declares for the swarm's services and nodes.  No secret goes
    in: the user's certificates count by their (public) certificate, never by their key."""
    traefik = args.traefik
    return _digest(
        {
            "services": [service.args for spec in args.specs for service in spec.services],
            "traefik": repr(dataclasses.replace(traefik, certificates=())),
            "certificates": [c.cert for c in traefik.certificates],
            "domain": args.domain,
            "nodes": [repr(n) for n in args.planned],
            "nodeLabels": args.node_labels,
        }
    )


def fingerprint(declared: str, watched: Sequence[pulumi.CustomResource]) -> pulumi.Output[str]:
    """The trigger: changes with DECLARED and when a watched resource is created or replaced."""
    return pulumi.Output.all(*(r.id for r in watched)).apply(lambda ids: _digest([declared, ids]))


# Traefik's swarm provider reads the services every 15 s (refreshSeconds): a step that verifies
# right after a deploy waits that long and a little more, so a route to the old labels cannot pass.
ROUTES_SETTLE_SECONDS = 20


class Verify(pulumi.ComponentResource):
    def __init__(self, name: str, args: VerifyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:verify:Verify", name, None, opts)
        nodes, specs, watched = args.nodes, args.specs, args.depends_on
        self.plan = verify_plan(node_list(nodes), services(specs, args.traefik), endpoints(specs, nodes, args.traefik))
        # How long to wait is a stack setting (verifyTimeout), never the environment of the shell that
        # runs `pulumi`: a resource depends on code and config only.
        # After an up, Traefik may route by the old labels for up to its 15 s poll: settle first.
        step = Step("verify.sh", (str(args.timeout), str(ROUTES_SETTLE_SECONDS)))
        declared = _digest([self.plan, step.args, declared_state(args)])
        self.command = run_script(
            "verify",
            args.manager.connection,
            step,
            parent=self,
            stdin=self.plan,
            triggers=[fingerprint(declared, watched)],
            depends_on=list(watched),
            delete_before_replace=True,
        )
        self.register_outputs({"report": self.command.stdout})
