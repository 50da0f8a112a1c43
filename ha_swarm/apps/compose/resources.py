"""The Docker resources of a stack's configs and secrets (pulumi_docker ServiceConfig and Secret).

Each is declared under the Docker name the stack file gives it (its URN stays when its content
changes) with the versioned name as its `name`: new content replaces it, the services that use it
roll to the new one, and the old one is removed after (Pulumi creates a replacement before it deletes
the old one).  A secret's data is a Pulumi secret from the file read to the state."""

from __future__ import annotations

import base64
from collections.abc import MutableMapping
from typing import Any

import pulumi
import pulumi_docker as docker

from ha_swarm.apps.compose.model import FileObject, NetworkRef, StackSpec

ObjectIds = dict[tuple[str, str], tuple[pulumi.Output[str], pulumi.Output[str]]]


def declare_objects(spec: StackSpec, declared: MutableMapping[str, pulumi.CustomResource], opts: pulumi.ResourceOptions) -> ObjectIds:
    """The stack's configs and secrets, each declared once for all the stacks (`declared`, by
    versioned Docker name); gives (kind, key) -> (id, Docker name) for `ServiceSpec.service_args`."""
    found: ObjectIds = {}
    for obj in (*spec.configs, *spec.secrets):
        if obj.versioned_name not in declared:
            declared[obj.versioned_name] = _declare(obj, opts)
        resource = declared[obj.versioned_name]
        found[(obj.kind, obj.key)] = (resource.id, resource.name)  # type: ignore[attr-defined]
    return found


def _declare(obj: FileObject, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    data = base64.b64encode(obj.data).decode()
    if obj.secret:
        labels = [docker.SecretLabelArgs(label=k, value=v) for k, v in obj.labels]
        return docker.Secret(obj.name, name=obj.versioned_name, data=pulumi.Output.secret(data), labels=labels, opts=opts)
    config_labels = [docker.ServiceConfigLabelArgs(label=k, value=v) for k, v in obj.labels]
    return docker.ServiceConfig(obj.name, name=obj.versioned_name, data=data, labels=config_labels, opts=opts)


def network_ipam(ref: NetworkRef) -> dict[str, Any]:
    """A stack network's `ipam` as pulumi_docker.Network arguments (none when the file gives none:
    the inputs of the networks declared before stay as they were)."""
    args: dict[str, Any] = {}
    if ref.ipam_driver:
        args["ipam_driver"] = ref.ipam_driver
    if ref.ipam_subnets:
        args["ipam_configs"] = [docker.NetworkIpamConfigArgs(subnet=subnet) for subnet in ref.ipam_subnets]
    return args
