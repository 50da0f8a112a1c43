#!/usr/bin/env bash
# backup-archives.sh list DIR STACK | cat DIR NAME   (as root, on a manager)
# The scheduled backup's archives (backup-job.sh) for `make backup-pull`:
#   list: the names of STACK's archives in DIR, oldest first, one a line (none: nothing, exit 0)
#   cat:  the bytes of DIR/NAME (an archive: already encrypted) on stdout
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_plain_dir >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
    # shellcheck source=backup-lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/backup-lib.sh"
fi

usage() { hs_die "usage: backup-archives.sh list DIR STACK | cat DIR NAME"; }
[ "$#" -eq 3 ] || usage
action=$1 dir=$2 what=$3
hs_plain_dir "$dir" || hs_die "not an absolute folder path of plain names: '${dir}'"
case "$action" in
    list)
        hs_stack_name "$what" || hs_die "not a stack name: '${what}'"
        [ -d "$dir" ] || exit 0
        find "$dir" -maxdepth 1 -type f -name "${what}-2*.swarm.age" -printf '%f\n' | LC_ALL=C sort
        ;;
    cat)
        [[ "$what" =~ ^[A-Za-z0-9._-]+\.swarm\.age$ ]] || hs_die "not an archive name: '${what}'"
        [ ! -t 1 ] || hs_die "stdout is a terminal"
        cat -- "${dir}/${what}"
        ;;
    *) usage ;;
esac
