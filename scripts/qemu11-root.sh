#!/usr/bin/env bash
# Ensure a Debian trixie root with QEMU 11 from trixie-backports, cached outside the clone, for
# the nested (host first-stage translation) guest leg. Prints the root directory on stdout.
#
#   UIOMMU_CACHE   cache root (default: /var/cache/uiommu if writable, else ~/.cache/uiommu)
#
# Nothing from trixie is installed on the host: the root is made by debootstrap (installed from
# the host's own suite if missing) and QEMU is installed inside it with apt-get in a chroot.
# Needs root. The root is complete when its marker file exists; an interrupted build is
# started over.
set -euo pipefail
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"
ROOT=$UIOMMU_CACHE/trixie-root
MARKER=$ROOT/.uiommu-qemu11-ready
MIRROR=http://deb.debian.org/debian
log() { echo "qemu11-root: $*" >&2; }

if [ -f "$MARKER" ]; then
	echo "$ROOT"
	exit 0
fi
[ "$(id -u)" = 0 ] || { log "need root to build $ROOT"; exit 1; }
if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	apt-get install -y -qq debootstrap >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
fi

# Mounts for the chroot's apt (dpkg scripts want /proc); always undone.
mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

log "debootstrap trixie into $ROOT"
rm -rf "$ROOT"
mkdir -p "$ROOT"
debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >"$UIOMMU_CACHE/trixie-root.log" 2>&1 ||
	{ tail -30 "$UIOMMU_CACHE/trixie-root.log"; exit 1; }
write_suite_sources "$ROOT/etc/apt/sources.list.d/trixie-backports.sources" trixie-backports "$MIRROR"
mount -t proc proc "$ROOT/proc" && mounted+=("$ROOT/proc")
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
log "installing qemu-system-x86 from trixie-backports inside the root"
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
	'apt-get update -qq && apt-get install -y -qq --no-install-recommends -t trixie-backports qemu-system-x86' \
	>>"$UIOMMU_CACHE/trixie-root.log" 2>&1 || { tail -30 "$UIOMMU_CACHE/trixie-root.log"; exit 1; }
chroot "$ROOT" apt-get clean
chroot "$ROOT" qemu-system-x86_64 --version | head -1 >&2
touch "$MARKER"
echo "$ROOT"
