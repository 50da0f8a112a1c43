#!/usr/bin/env bash
# swarm-inventory.sh
# On a manager: what a restore must bring back, one item a line (backup-lib.sh, hs_inventory):
#   node ID HOSTNAME NAME ROLE ADDR
#   service|network|secret|config ID NAME
# The backup records the same list; `make verify BACKUP=...` compares the two. Changes nothing.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_inventory >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
    # shellcheck source=backup-lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/backup-lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-inventory.sh (no arguments)"
hs_require_manager
hs_inventory
