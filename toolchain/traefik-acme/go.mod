module ha-swarm.local/traefik-acme

go 1.22
