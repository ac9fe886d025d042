#!/usr/bin/env bash
# in-root.sh ROOT DIR... -- COMMAND [ARGS...]: runs COMMAND chrooted in ROOT (a Debian root such
# as scripts/qemu11-root.sh makes), in a mount namespace of its own so that nothing stays
# mounted afterwards. /proc, /sys, /dev and each DIR are bind-mounted at the same path inside
# the root, so host paths (the uiommu binaries and preload library, a kernel and initrd) work
# unchanged there. Needs root.
set -euo pipefail
if [ "${1:-}" != --in-namespace ]; then
	exec unshare --mount --propagation private "$0" --in-namespace "$@"
fi
shift
root=$1
shift
dirs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do dirs+=("$1"); shift; done
[ "${1:-}" = -- ] || { echo "usage: $0 ROOT DIR... -- COMMAND..." >&2; exit 2; }
shift
for d in /proc /sys /dev "${dirs[@]}"; do
	mkdir -p "$root$d"
	mount --rbind "$d" "$root$d"
done
exec chroot "$root" "$@"
