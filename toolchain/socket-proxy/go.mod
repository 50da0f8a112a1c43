module ha-swarm.local/socket-proxy

go 1.22
