module ha-swarm.local/whoami-lite

go 1.22
