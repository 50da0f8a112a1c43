"""Forming the swarm on a list of `Node` values, whatever target made them.

Per node, three remote commands carry its membership; Pulumi deletes them in
reverse order, which is the graceful way out of a swarm:

    register  (first manager)  create: check the manager   delete: docker node rm
    join      (the node)       create: swarm join          delete: swarm leave
    settle    (first manager)  create: wait Ready, labels  delete: quorum check, drain, demote

The first manager runs `init` (delete: leave --force, only on a full destroy)
and `tokens` (secret stdout).  Managers join one after another, each after the
previous one is settled (so on destroy they leave one at a time too, the last
one first, each fully removed before the next is drained); workers join in
parallel, each depending only on the init, the tokens, its own readiness and the
last manager's settle (so the managers' chain does not queue behind the workers'
steps in the engine, and on destroy the managers are drained after the workers left).

Day two, on the first manager (`swarm` settings):

    rotate-tokens  create: swarm-rotate-tokens.sh, once per `swarm.rotateTokens` generation (its
                   trigger), before `tokens` reads the tokens again (the generation is a trigger
                   of `tokens` too), so nodes that join later get the new ones.  A join takes its
                   token on stdin, which is not a trigger: a new token updates the join in place,
                   and swarm-join.sh, run again on a node already in the swarm, changes nothing.
                   (ignore_changes on stdin would be wrong: a join replaced later, for a new
                   machine or a new swarm, would then be created with the old, refused token.)
    autolock       create: swarm-autolock.sh on (the unlock key, secret stdout)
                   delete: swarm-autolock.sh off; declared only with `swarm.autolock`.

After a restore (`make restore`, tools/backup.py): the manager the backup was taken on holds the
swarm of the backup again (`docker swarm init --force-new-cluster`; a swarm's Raft store holds its
manager's address, so it is restored there), the other managers are removed from it, the join
tokens rotated, and the first manager joined to it when it is another one; every other node's
membership is gone or stale.  `make restore` records that as `swarm.restored`, a generation, and
`swarm.restoredOn`, the manager; the program reads them: the generation is a trigger of `tokens`
(read again) and of the join of every node but the first manager and that one, so the next `up`
replaces them: the join leaves and joins with the new token; its new node ID re-runs the settle
(an update: its delete, a drain that waits for the tasks of the old entry, whose node has left,
does not run); `restored-forget` then removes the stale entries (with the name of a node that joined
again, once down).  Pulumi replaces a node's steps in their order, each deleted right before it is
created again, so the registers stay: replacing one would remove the entry before the node left.  The first manager's settle runs again with its
current node ID (`restored-id`), its init stays.  With autolock, `unlock-key` reads the unlock key
once per generation (it is then the `unlockKey` output).  An `up` after that changes nothing (the generation stays), and a stack
without `swarm.restored` registers exactly what it did before.  Why not probe the nodes on every
`up` instead: a probe that runs each time is a change each time (a remote.Command runs only when
created or replaced), and a probe's answer ("gone", then "member" after the join) would flip a
trigger twice for one loss; `make restore` knows when memberships were lost, and says so once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from ha_swarm.nodes.node import Node
from ha_swarm.nodes.remote import Step, run_script


def _tokens(stdout: str) -> dict[str, str]:
    tokens = json.loads(stdout)
    if not isinstance(tokens, dict) or not {"worker", "manager"} <= set(tokens):
        raise ValueError("swarm-tokens.sh printed no worker and manager tokens")
    return {"worker": str(tokens["worker"]), "manager": str(tokens["manager"])}


def _node_id(stdout: str) -> str:
    return stdout.strip().splitlines()[-1].strip() if stdout.strip() else ""


@dataclass(frozen=True, kw_only=True)
class SwarmArgs:
    nodes: Sequence[Node]  # managers first
    first_manager: Node  # it initialises the swarm and drives every membership step
    labels: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # node name: its labels
    rotate_tokens: str | None = None  # swarm.rotateTokens: the generation
    autolock: bool = False
    restored: str | None = None  # swarm.restored: the generation `make restore` recorded
    restored_on: str | None = None  # swarm.restoredOn: the manager it restored on (its steps stay)


class Swarm(pulumi.ComponentResource):
    def __init__(self, name: str, args: SwarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:swarm:Swarm", name, None, opts)
        nodes = args.nodes
        first = args.first_manager
        self.first_manager = first

        self.init = run_script(
            "init",
            first.connection,
            Step("swarm-init.sh", (first.swarm_address,)),
            delete=Step("swarm-leave.sh", ("--force",)),
            parent=self,
            depends_on=[first.ready],
            triggers=first.triggers,
            delete_before_replace=True,
        )
        swarm_id = self.init.stdout
        generation = args.rotate_tokens
        # After a restore: every membership step but the first manager's runs again (see above).
        self.restored: tuple[str, ...] = () if args.restored is None else (f"restored:{args.restored}",)
        rotation = [self._rotate_tokens(first, generation)] if generation is not None else []
        self.tokens = run_script(
            "tokens",
            first.connection,
            Step("swarm-tokens.sh"),
            parent=self,
            secret_stdout=True,
            depends_on=[self.init, *rotation],
            triggers=[swarm_id, *(() if generation is None else (f"rotation:{generation}",)), *self.restored],
        )
        tokens: pulumi.Output[dict[str, str]] = pulumi.Output.secret(self.tokens.stdout.apply(_tokens))
        self.worker_token = tokens.apply(lambda t: t["worker"])
        self.manager_token = tokens.apply(lambda t: t["manager"])

        self.settled: dict[str, remote.Command] = {}
        self.joins: dict[str, remote.Command] = {}
        first_id: pulumi.Output[str] = pulumi.Output.unsecret(swarm_id)
        first_after: list[pulumi.Resource] = [self.init]
        if self.restored:
            # The first manager is a member of the restored swarm under another node ID (the one of the
            # backup's manager, or a new one when `make restore` joined it to that manager): swarm-init.sh,
            # on a manager, changes nothing and says its ID.
            current = run_script(
                "restored-id",
                first.connection,
                Step("swarm-init.sh", (first.swarm_address,)),
                parent=self,
                depends_on=[self.init],
                triggers=list(self.restored),
            )
            first_id, first_after = pulumi.Output.unsecret(current.stdout.apply(_node_id)), [current]
        self.settled[first.name] = self._settle(first, first, first_id, first_after, args.labels)

        previous_manager: pulumi.Resource = self.settled[first.name]
        for node in nodes:
            if node is first:
                continue
            after = [previous_manager] if node.role == "manager" else []
            # The manager the backup was restored on kept its membership: its steps stay as they are.
            again = self.restored if node.name != args.restored_on else ()
            # A join waits for the managers settled so far: a manager for the previous one, a worker for
            # the last one (managers come first).  Workers still join in parallel, and a worker's chain
            # does not grow with their number; but the managers' chain, which everything else waits for,
            # no longer queues behind twenty workers' joins and settles in the engine (issue 20,
            # docs/scale.md).  On destroy the managers are drained once the workers have left.
            join = self._join(node, first, swarm_id, after, again, join_after=[previous_manager])
            node_id = pulumi.Output.unsecret(join.stdout.apply(_node_id))
            # (a join run again changes the node ID: its settle runs again as an update, without its
            # delete, which would wait for the tasks of an entry whose node has left)
            settled = self._settle(node, first, node_id, [join], args.labels, removable=True)
            self.joins[node.name] = join
            self.settled[node.name] = settled
            if node.role == "manager":
                previous_manager = settled

        self.formed: list[remote.Command] = list(self.settled.values())
        # What needs the managers only (the Docker provider on the first manager, traefik-net, Traefik and
        # the Docker API proxy, all placed on managers) waits for them alone, not for every worker: with
        # many workers it is deployed while they join (issue 20, docs/scale.md).  The stacks wait for
        # `formed`: a service placed before the workers join would stay on the managers.  After a
        # restore, everything waits for the stale entries to go (`restored-forget`, below), as before.
        self.managers_formed: list[remote.Command] = [self.settled[n.name] for n in nodes if n.role == "manager"]
        if self.restored:
            # The nodes joined again under new IDs: their entries of the backup go (a replaced join
            # leaves and joins before the replaced settle drains the old entry; Pulumi replaces a
            # node's steps in their order, so removing the entry is a last step of its own).
            self.formed.append(
                run_script(
                    "restored-forget",
                    first.connection,
                    Step("swarm-forget-stale.sh"),
                    parent=self,
                    depends_on=list(self.settled.values()),
                    triggers=list(self.restored),
                )
            )
            self.managers_formed.append(self.formed[-1])
        # The unlock key of an autolocked swarm (a secret), or None without swarm.autolock.
        self.unlock_key: pulumi.Output[str] | None = self._autolock(first, swarm_id, rotation) if args.autolock else None
        self.register_outputs(
            {
                "firstManager": first.name,
                "nodes": [n.name for n in nodes],
            }
        )

    def _rotate_tokens(self, first: Node, generation: str) -> pulumi.Resource:
        """Rotate the join tokens once per generation; the old ones are refused from then on."""
        return run_script(
            "rotate-tokens",
            first.connection,
            Step("swarm-rotate-tokens.sh"),
            parent=self,
            secret_stdout=True,  # it prints nothing, but it asks for tokens: never log what it says
            depends_on=[self.init],
            triggers=[f"rotation:{generation}"],
        )

    def _autolock(self, first: Node, swarm_id: pulumi.Output[str], rotation: list[pulumi.Resource]) -> pulumi.Output[str]:
        """Autolock on (off again when the setting goes); the unlock key, kept secret.  After a
        rotation of the same `up`: both change the swarm's cluster object, one at a time.  After
        the managers have joined: a swarm update proposed while Raft adds a member can be dropped
        (a CI run's `up` from nothing failed there once, on a loaded machine), and a manager that
        joins an autolocked swarm needs nothing more."""
        autolock = run_script(
            "autolock",
            first.connection,
            Step("swarm-autolock.sh", ("on",)),
            delete=Step("swarm-autolock.sh", ("off",)),
            parent=self,
            secret_stdout=True,
            depends_on=[self.init, *rotation, *self.managers_formed],
            triggers=[swarm_id],
            delete_before_replace=True,
        )
        if self.restored:
            # The restore rotated the unlock key: read it again, once per restore (no delete: turning
            # autolock off belongs to `autolock` alone).
            autolock = run_script(
                "unlock-key",
                first.connection,
                Step("swarm-autolock.sh", ("on",)),
                parent=self,
                secret_stdout=True,
                depends_on=[autolock],
                triggers=[swarm_id, *self.restored],
            )
        return pulumi.Output.secret(autolock.stdout.apply(lambda out: out.strip()))

    def _join(
        self,
        node: Node,
        first: Node,
        swarm_id: pulumi.Output[str],
        after: list[pulumi.Resource],
        again: tuple[str, ...],
        *,
        join_after: list[pulumi.Resource],
    ) -> remote.Command:
        triggers = [*node.triggers, swarm_id]
        register = run_script(
            f"{node.name}-register",
            first.connection,
            Step("manager-check.sh"),
            delete=Step("node-remove.sh", (node.name, node.swarm_address)),
            parent=self,
            # A manager's register waits for the previous manager too, so that on destroy the
            # previous manager is drained only after this one is gone from the node list: two
            # managers are never taken out at once, and each quorum check sees a settled swarm.
            depends_on=[self.init, *after],
            triggers=triggers,
            delete_before_replace=True,
        )
        token = self.manager_token if node.role == "manager" else self.worker_token
        return run_script(
            f"{node.name}-join",
            node.connection,
            Step("swarm-join.sh", (node.role, first.swarm_address, node.swarm_address)),
            delete=Step("swarm-leave.sh"),
            stdin=token,
            parent=self,
            depends_on=[node.ready, register, self.tokens, *join_after],
            triggers=[*triggers, *again],
            delete_before_replace=True,
        )

    def _settle(
        self,
        node: Node,
        first: Node,
        node_id: pulumi.Output[str],
        after: list[pulumi.Resource],
        node_labels: Mapping[str, tuple[tuple[str, str], ...]],
        *,
        removable: bool = False,
    ) -> remote.Command:
        labels = tuple(f"{k}={v}" for k, v in node_labels.get(node.name, ()))
        return run_script(
            f"{node.name}-settle",
            first.connection,
            node_id.apply(lambda i: Step("node-settle.sh", (i, node.name, node.role, *labels))),
            delete=node_id.apply(lambda i: Step("node-drain.sh", (i,))) if removable else None,
            parent=self,
            depends_on=after,
            triggers=list(node.triggers),
            delete_before_replace=True,
        )
