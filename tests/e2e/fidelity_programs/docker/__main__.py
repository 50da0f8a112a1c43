"""One swarm service through the Docker provider, its restart policy with ha-swarm's fix (delay and
window always given, `ha_swarm.apps.compose.deploy.RESTART_DEFAULTS`) or without it (config `fidelity:fixed`),
for tests/e2e/test_provider_fidelity.py: upstream pulumi-docker diffs the second form forever
(pulumi/pulumi-docker#1285), and the toolchain's stand-in must too."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from ha_swarm.apps.compose.deploy import RESTART_DEFAULTS

config = pulumi.Config("fidelity")
fixed = config.require_bool("fixed")
ssh_opts = ["-i", config.require("keyFile"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
provider = docker.Provider("docker", host=f"ssh://swarm@{config.require('host')}", ssh_opts=ssh_opts)
policy = {"condition": "any", **(RESTART_DEFAULTS if fixed else {})}
docker.Service(
    "whoami",
    name="fidelity-whoami",
    mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=docker.ServiceTaskSpecContainerSpecArgs(image=config.require("image")),
        restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(**policy),
    ),
    opts=pulumi.ResourceOptions(provider=provider),
)
