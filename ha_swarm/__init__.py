"""ha-swarm: a highly available Docker Swarm behind Traefik, as a Pulumi program; a folder per step
of the flow config -> machines -> swarm -> ingress -> apps -> outputs (see docs and design)."""
