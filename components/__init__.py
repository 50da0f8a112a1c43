"""ha-swarm: the components of the Pulumi program, one module per step."""
