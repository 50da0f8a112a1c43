#!/usr/bin/env bash
# Build the lab VM image: a small Debian 12 (bookworm) cloud-style system made from Debian's
# packages only (debootstrap from the apt mirror this machine uses), booted by DIRECT KERNEL BOOT:
# an ext4 root file system with no partition table and no boot loader (disk.qcow2), and beside it
# the kernel (vmlinuz), an initramfs that mounts the root from virtio-blk /dev/vda (initrd.img) and
# the kernel command line (kernel-args). Needs no loop device, nbd or mount for the disk: the root
# tree is built in a directory and written with `mkfs.ext4 -d`, then `qemu-img convert -O qcow2`
# (zstd-compressed clusters). Only what is missing is built, into
# ${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}/lab/: base/KEY/ (the root tree, by package list and
# recipe) and images/KEY-KEY/ (disk, kernel, initramfs, by base, preload content and recipe).
# libvirt's QEMU user cannot read files under /root: copy the kernel and initramfs into a storage
# pool (as volumes) or another readable folder before a domain uses them.
#
#   lab/build-image.sh                        build what is missing, print the env (stdout)
#   lab/build-image.sh --preload A.tar B.tar  the same, with these `docker save` archives in
#                                                   /var/lib/ha-swarm/preload/, `docker load`ed at
#                                                   first boot before cloud-init's final stage
#   lab/build-image.sh --check [--preload ...]  build nothing; exit 0 (and print the env) if
#                                                   that image is built
#   lab/build-image.sh --rebuild              build again even when cached (fresh packages)
#
#   eval "$(lab/build-image.sh)"   or   . "${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}/lab/env.sh"
#
# Progress and timings go to stderr, build logs to lab/logs/; stdout carries only the env lines:
# HA_SWARM_LAB_IMAGE, HA_SWARM_LAB_KERNEL, HA_SWARM_LAB_INITRD, HA_SWARM_LAB_KERNEL_ARGS.
# Needs root (debootstrap, chroot); installs debootstrap, qemu-utils and e2fsprogs when missing.
# HA_SWARM_LAB_MIRROR overrides the Debian mirror read from /etc/apt/sources.list*.
set -euo pipefail

CACHE=${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}
LAB=$CACHE/lab
SUITE=bookworm
ARCH=amd64
FS_LABEL=ha-swarm-root
KERNEL_ARGS="root=/dev/vda rw console=ttyS0"
PRELOAD_DIR=/var/lib/ha-swarm/preload

# What goes into the image besides debootstrap's minbase (installed without Recommends).
PACKAGES=(
    # boot: kernel, initramfs, init
    linux-image-amd64 initramfs-tools zstd systemd-sysv udev dbus libpam-systemd kmod e2fsprogs
    # cloud-init with its NoCloud datasource (blkid finds the `cidata` ISO) and network-config v2:
    # netplan renders it for systemd-networkd, as in Debian's own bookworm cloud images
    cloud-init netplan.io systemd-resolved libnss-myhostname locales
    # access and Docker (apparmor: without it Docker refuses to start containers)
    openssh-server sudo docker.io apparmor ca-certificates curl iproute2 iptables iputils-ping procps less
    # storage.nfs: the first manager serves NFS, every node mounts it (installed here because an
    # isolated lab has no mirror; nfs-server stays disabled until nfs-server.sh enables it)
    nfs-kernel-server nfs-common
)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

check=0 rebuild=0 preload=()
while [ $# -gt 0 ]; do
    case $1 in
        --check) check=1 ;;
        --rebuild) rebuild=1 ;;
        --preload)
            shift
            while [ $# -gt 0 ] && [[ $1 != --* ]]; do preload+=("$1"); shift; done
            continue
            ;;
        -h | --help) usage; exit 0 ;;
        *) echo "build-lab-image: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

log() { printf '[lab-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }
T0=$(now)

# -- preload archives: checked first, their content is part of the cache key ---------------------
preload_abs=() preload_sums=()
for tar in ${preload[@]+"${preload[@]}"}; do
    [ -f "$tar" ] || die "--preload: no such file: $tar"
    tar -tf "$tar" manifest.json >/dev/null 2>&1 || die "--preload: $tar is not a \`docker save\` archive (no manifest.json)"
    preload_abs+=("$(readlink -f "$tar")")
done
dups=$(for tar in ${preload_abs[@]+"${preload_abs[@]}"}; do basename "$tar"; done | sort | uniq -d)
[ -z "$dups" ] || die "--preload: two archives with the same file name: $dups"

# -- the Debian mirror this machine's apt uses ----------------------------------------------------
# Prints "URI SUITE" for every `deb` source, from one-line and deb822 files.
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            function flush(   u, s, nu, ns, a, b) {
                if (types ~ /(^| )deb( |$)/ && enabled != "no") {
                    nu = split(uris, a, " "); ns = split(suites, b, " ")
                    for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print a[u], b[s]
                }
                types = uris = suites = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
              if (key == "types") types = $0; else if (key == "uris") uris = $0
              else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0) }
            END { flush() }' "$f"
    done
}
mirror_for() { # SUITE: the first URI serving it
    apt_sources | awk -v s="$1" '$2 == s { print $1; exit }'
}
MIRROR=${HA_SWARM_LAB_MIRROR:-$(mirror_for "$SUITE")}
if [ -z "$MIRROR" ]; then # another release on this machine: any Debian archive it uses
    MIRROR=$(apt_sources | awk '$2 !~ /-security$/ && $1 ~ /\/debian\/?$/ { print $1; exit }')
fi
[ -n "$MIRROR" ] || die "found no Debian mirror in /etc/apt/sources.list*: set HA_SWARM_LAB_MIRROR=http://HOST/debian"
MIRROR=${MIRROR%/}
SECURITY=${HA_SWARM_LAB_SECURITY_MIRROR:-$(mirror_for "$SUITE-security")}
SECURITY=${SECURITY%/}

# -- how the image is made in the chroot (the functions' text is part of the cache key) ----------
# Before the packages, inside the new root: a tiny initramfs, with only what mounts an ext4 root
# on virtio-blk (their dependencies follow), is made when the kernel is installed.
prepare_rootfs() {
    set -euo pipefail
    mkdir -p /etc/initramfs-tools/conf.d /usr/share/initramfs-tools/modules.d
    printf 'MODULES=list\n' >/etc/initramfs-tools/conf.d/ha-swarm
    printf '%s\n' virtio_pci virtio_blk virtio_scsi ext4 crc32c_generic >/usr/share/initramfs-tools/modules.d/ha-swarm
}
# After the packages, inside the new root: configure it as a cloud image.
configure_rootfs() {
    set -euo pipefail
    export DEBIAN_FRONTEND=noninteractive LC_ALL=C
    printf 'LABEL=%s / ext4 defaults,errors=remount-ro 0 1\n' "$FS_LABEL" >/etc/fstab
    printf 'debian\n' >/etc/hostname
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >/etc/hosts
    # cloud-init: NoCloud only (the cidata ISO), netplan for network-config v2, /etc/hosts managed
    cat >/etc/cloud/cloud.cfg.d/90_ha-swarm.cfg <<'EOF'
# ha-swarm lab image: the only datasource is NoCloud (a `cidata` ISO), so nothing probes a
# metadata service; network-config v2 goes through netplan to systemd-networkd.
datasource_list: [NoCloud, None]
manage_etc_hosts: true
# No boot loader here (direct kernel boot): nothing for grub-dpkg to record. SSH host keys
# without RSA: RSA key generation alone takes many seconds under software emulation.
grub_dpkg:
  enabled: false
ssh_genkeytypes: [ed25519, ecdsa]
system_info:
  network:
    renderers: [netplan]
    activators: [netplan]
EOF
    # the datasource's default locale, generated here: cloud-init then has nothing to regenerate
    sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
    locale-gen
    printf 'LANG=en_US.UTF-8\n' >/etc/default/locale
    # docker load of the preloaded archives, once, before cloud-init's final stage (runcmd)
    mkdir -p "$PRELOAD_DIR"
    cat >/usr/local/sbin/ha-swarm-preload <<EOF
#!/bin/sh
# Load the docker-save archives of $PRELOAD_DIR into Docker, then mark them loaded.
set -eu
for tar in $PRELOAD_DIR/*.tar; do
    [ -e "\$tar" ] || continue
    echo "ha-swarm-preload: docker load -i \$tar"
    docker load -i "\$tar"
done
touch $PRELOAD_DIR/.loaded
EOF
    chmod 0755 /usr/local/sbin/ha-swarm-preload
    cat >/etc/systemd/system/ha-swarm-preload.service <<EOF
[Unit]
Description=ha-swarm: load the preloaded Docker images
Requires=docker.service
After=docker.service
Before=cloud-final.service
ConditionPathExistsGlob=$PRELOAD_DIR/*.tar
ConditionPathExists=!$PRELOAD_DIR/.loaded

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ha-swarm-preload

[Install]
WantedBy=multi-user.target
EOF
    systemctl enable ha-swarm-preload.service systemd-networkd.service systemd-resolved.service docker.service ssh.service
    # an NFS server only where storage.nfs asks for one (ha_swarm/nodes/scripts/nfs-server.sh)
    systemctl disable nfs-server.service
    # nothing periodic fetches from the network in a lab VM
    systemctl disable apt-daily.timer apt-daily-upgrade.timer
    # per-instance identity comes at first boot: machine-id, SSH host keys (cloud-init makes them)
    rm -f /etc/ssh/ssh_host_* /var/lib/dbus/machine-id
    : >/etc/machine-id
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /var/log/apt/* /tmp/* /var/tmp/*
    dpkg-query -W -f '${Package} ${Version}\n' >/ha-swarm-packages.txt
}

# -- safe removal of a build tree: never through a mount left inside it --------------------------
mounts_under() { awk -v d="$1/" 'index($2 "/", d) == 1 { print $2 }' /proc/self/mounts | sort -r; }
unmount_under() {
    local m
    for m in $(mounts_under "$1"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}
remove_tree() {
    [ -e "$1" ] || return 0
    unmount_under "$1"
    [ -z "$(mounts_under "$1")" ] || die "$1 still has mounts inside; not removing it"
    rm -rf --one-file-system "$1"
}
CLEANUP=()
cleanup() {
    local d
    for d in ${CLEANUP[@]+"${CLEANUP[@]}"}; do unmount_under "$d"; done
}
trap cleanup EXIT

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# -- the base root tree ---------------------------------------------------------------------------
build_base() {
    local tmp=$LAB/build/base-$BASE_KEY logf=$LAB/logs/base-$BASE_KEY.log start t root
    start=$(now) t=$start
    root=$tmp/rootfs
    remove_tree "$tmp"
    mkdir -p "$tmp"
    CLEANUP+=("$tmp")
    : >"$logf"
    log "base $BASE_KEY: debootstrap $SUITE (minbase) from $MIRROR (log: $logf)"
    debootstrap --variant=minbase --arch="$ARCH" --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$SUITE" "$root" "$MIRROR" >>"$logf" 2>&1 || { tail -n 30 "$logf" >&2; die "debootstrap failed, see $logf"; }
    log "base $BASE_KEY: debootstrap done in $(fmt_secs $(($(now) - t)))"

    # apt inside the chroot: this machine's mirror, no service started, /proc and /sys when possible
    rm -f "$root/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$MIRROR" "$SUITE" "$SUITE"
        if [ -n "$SECURITY" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$SECURITY" "$SUITE"
        fi
    } >"$root/etc/apt/sources.list.d/debian.sources"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc" 2>/dev/null || log "note: cannot mount /proc in the chroot; going on without it"
    mountpoint -q "$root/sys" || mount -t sysfs sysfs "$root/sys" 2>/dev/null || log "note: cannot mount /sys in the chroot; going on without it"

    chroot "$root" /bin/bash -c "$(declare -f prepare_rootfs); prepare_rootfs" >>"$logf" 2>&1 || die "preparing the chroot failed, see $logf"
    t=$(now)
    log "base $BASE_KEY: apt-get install ${#PACKAGES[@]} packages (no Recommends)"
    chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update -q >>"$logf" 2>&1 ||
        { tail -n 30 "$logf" >&2; die "apt-get update in the chroot failed, see $logf"; }
    chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${PACKAGES[@]}" >>"$logf" 2>&1 ||
        { tail -n 30 "$logf" >&2; die "apt-get install in the chroot failed, see $logf"; }
    log "base $BASE_KEY: packages installed in $(fmt_secs $(($(now) - t)))"

    t=$(now)
    {
        declare -f configure_rootfs
        printf 'FS_LABEL=%q PRELOAD_DIR=%q\nconfigure_rootfs\n' "$FS_LABEL" "$PRELOAD_DIR"
    } >"$root/tmp/configure.sh"
    chroot "$root" /bin/bash /tmp/configure.sh >>"$logf" 2>&1 || { tail -n 30 "$logf" >&2; die "configuring the image failed, see $logf"; }
    rm -f "$root/usr/sbin/policy-rc.d" "$root/tmp/configure.sh"
    unmount_under "$root"
    # the VM's resolver: systemd-resolved's stub (set last: the chroot needed the host's)
    ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
    mv "$root/ha-swarm-packages.txt" "$tmp/packages.txt"
    log "base $BASE_KEY: configured in $(fmt_secs $(($(now) - t)))"

    printf '%s\n' "$(($(now) - start))" >"$tmp/build-seconds"
    remove_tree "$BASE"
    mv "$tmp" "$BASE"
    touch "$BASE/.complete"
}

# -- the disk image, kernel and initramfs ---------------------------------------------------------
build_image() {
    local tmp=$LAB/build/image-$BASE_KEY-$IMAGE_KEY stage t used size_mib kernel initrd i
    t=$(now)
    stage=$tmp/stage
    remove_tree "$tmp"
    mkdir -p "$tmp"
    CLEANUP+=("$tmp")
    # hard links: nothing in the stage is changed in place, preload archives are added as new files
    cp -al "$BASE/rootfs" "$stage"
    : >"$tmp/preload.txt"
    for i in ${preload_abs[@]+"${!preload_abs[@]}"}; do
        cp "${preload_abs[$i]}" "$stage$PRELOAD_DIR/$(basename "${preload_abs[$i]}")"
        printf '%s  %s\n' "${preload_sums[$i]}" "$(basename "${preload_abs[$i]}")" >>"$tmp/preload.txt"
    done
    used=$(du -sx --block-size=1M "$stage" | cut -f1)
    # room to work before cloud-init grows the file system to the volume: used + 1 GiB, whole GiB
    size_mib=$(((used + 1024 + 1023) / 1024 * 1024))
    [ "$size_mib" -ge 2048 ] || size_mib=2048
    log "image: ${used} MiB of files, an ext4 file system of $((size_mib / 1024)) GiB (mkfs.ext4 -d, no mount)"
    truncate -s "${size_mib}M" "$tmp/disk.raw"
    mkfs.ext4 -q -F -L "$FS_LABEL" -d "$stage" "$tmp/disk.raw" >>"$LAB/logs/image-$BASE_KEY-$IMAGE_KEY.log" 2>&1 ||
        die "mkfs.ext4 -d failed, see $LAB/logs/image-$BASE_KEY-$IMAGE_KEY.log"
    # zstd-compressed clusters: a third of the size; QEMU (5.1 or later) reads them as they are
    qemu-img convert -f raw -O qcow2 -c -o compression_type=zstd "$tmp/disk.raw" "$tmp/disk.qcow2"
    rm -f "$tmp/disk.raw"
    kernel=$(find "$BASE/rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
    initrd=$(find "$BASE/rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n 1)
    if [ -z "$kernel" ] || [ -z "$initrd" ]; then die "no kernel or initramfs in $BASE/rootfs/boot"; fi
    cp "$kernel" "$tmp/vmlinuz"
    cp "$initrd" "$tmp/initrd.img"
    printf '%s\n' "$KERNEL_ARGS" >"$tmp/kernel-args"
    cp "$BASE/packages.txt" "$tmp/packages.txt"
    remove_tree "$stage"
    {
        printf 'debian %s %s from %s\n' "$SUITE" "$ARCH" "$MIRROR"
        printf 'kernel %s\n' "$(basename "$kernel")"
        printf 'kernel-args %s\n' "$KERNEL_ARGS"
        printf 'base %s image %s preload %s\n' "$BASE_KEY" "$IMAGE_KEY" "${#preload_abs[@]}"
        printf 'files %s MiB, file system %s MiB\n' "$used" "$size_mib"
        printf 'built %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$tmp/manifest.txt"
    printf '%s\n' "$(($(now) - t))" >"$tmp/build-seconds"
    remove_tree "$IMAGE"
    mv "$tmp" "$IMAGE"
    touch "$IMAGE/.complete"
}

sha() { sha256sum | cut -c1-16; }
BASE_KEY=$(
    {
        printf 'suite=%s arch=%s mirror=%s security=%s\n' "$SUITE" "$ARCH" "$MIRROR" "$SECURITY"
        printf 'packages=%s\n' "${PACKAGES[*]}"
        printf 'label=%s preload=%s\n' "$FS_LABEL" "$PRELOAD_DIR"
        declare -f prepare_rootfs configure_rootfs
    } | sha
)
for tar in ${preload_abs[@]+"${preload_abs[@]}"}; do
    preload_sums+=("$(sha256sum <"$tar" | cut -c1-64)")
done
# the image: its base, the preload archives' content (in any order) and how it is assembled
IMAGE_KEY=$(
    {
        printf 'base=%s kernel-args=%s\n' "$BASE_KEY" "$KERNEL_ARGS"
        printf 'preload=%s\n' ${preload_sums[@]+"${preload_sums[@]}"} | sort -u
        declare -f build_image
    } | sha
)
BASE=$LAB/base/$BASE_KEY
IMAGE=$LAB/images/$BASE_KEY-$IMAGE_KEY

emit_env() {
    printf 'export HA_SWARM_LAB_IMAGE=%q\n' "$IMAGE/disk.qcow2"
    printf 'export HA_SWARM_LAB_KERNEL=%q\n' "$IMAGE/vmlinuz"
    printf 'export HA_SWARM_LAB_INITRD=%q\n' "$IMAGE/initrd.img"
    printf 'export HA_SWARM_LAB_KERNEL_ARGS=%q\n' "$KERNEL_ARGS"
}

if [ "$check" = 1 ]; then
    if [ -f "$IMAGE/.complete" ]; then log "built: $IMAGE"; emit_env; exit 0; fi
    log "MISSING: $IMAGE (base $([ -f "$BASE/.complete" ] && echo cached || echo missing))"
    exit 1
fi

# -- host tools -----------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2; } ||
        die "could not install ${need[*]}"
fi

mkdir -p "$LAB"/{base,images,logs,build}
exec 9>"$LAB/.lock"
if ! flock -n 9; then
    log "another build-lab-image runs on $LAB; waiting for it"
    flock 9
fi

if [ "$rebuild" = 1 ] || [ ! -f "$BASE/.complete" ]; then
    build_base
    log "base $BASE_KEY: built in $(fmt_secs "$(cat "$BASE/build-seconds")")"
    for old in "$LAB/images/$BASE_KEY-"*; do remove_tree "$old"; done # made from the old tree
    # root trees of other recipes are not needed any more (images made from them are kept)
    for old in "$LAB/base/"*; do
        [ "$old" = "$BASE" ] || { log "removing the old root tree $old"; remove_tree "$old"; }
    done
else
    log "base $BASE_KEY: cached (its cold build took $(fmt_secs "$(cat "$BASE/build-seconds")"))"
fi
if [ ! -f "$IMAGE/.complete" ]; then
    build_image
    log "image: built in $(fmt_secs "$(cat "$IMAGE/build-seconds")")"
else
    log "image: cached (its build took $(fmt_secs "$(cat "$IMAGE/build-seconds")"))"
fi

emit_env >"$IMAGE/env.sh"
cp "$IMAGE/env.sh" "$LAB/env.sh"
ln -sfn "images/$BASE_KEY-$IMAGE_KEY" "$LAB/current"
log "in $IMAGE:"
for f in disk.qcow2 vmlinuz initrd.img kernel-args packages.txt preload.txt manifest.txt; do
    log "  $(printf '%-12s %8s' "$f" "$(du -h --apparent-size "$IMAGE/$f" | cut -f1)")"
done
log "  qcow2 virtual size: $(qemu-img info --output=json "$IMAGE/disk.qcow2" | awk -F'[:,]' '/"virtual-size"/ { printf "%d MiB", $2 / 1048576; exit }')"
log "  kernel command line: $KERNEL_ARGS"
log "this run: $(fmt_secs $(($(now) - T0)))"
emit_env
