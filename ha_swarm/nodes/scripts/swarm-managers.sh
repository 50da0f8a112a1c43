#!/usr/bin/env bash
# swarm-managers.sh
# On a manager: one line per manager of the swarm, NAME ID ADDR REACHABILITY LEADER (NAME: its
# ha-swarm.name label, else its hostname; LEADER: true or false). Changes nothing.
# The backup tool asks this first, to choose the manager it backs up on (one that is not the leader).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-managers.sh (no arguments)"
hs_require_manager
ids=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
# shellcheck disable=SC2086 # word splitting of the ID list is intended
hs_docker node inspect --format \
    '{{with index .Spec.Labels "ha-swarm.name"}}{{.}}{{else}}{{$.Description.Hostname}}{{end}} {{.ID}} {{.Status.Addr}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}} {{.ManagerStatus.Leader}}{{else}}none false{{end}}' \
    $ids || hs_die "cannot inspect the managers"
