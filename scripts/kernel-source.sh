#!/usr/bin/env bash
# Ensure Debian's linux-source-7.3 (the uAPI specification) is unpacked and its uapi headers are
# installed in a cache outside the clone. Prints the cache directory on stdout.
#
#   UIOMMU_CACHE   cache root (default: /var/cache/uiommu if writable, else ~/.cache/uiommu)
#
# The package comes from trixie-backports, which is added to apt sources at priority 1 so that
# nothing is ever installed from it: we only `apt-get download` the source tarball.
set -euo pipefail
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
PKG=linux-source-7.3
# shellcheck source=lib/cache.sh
. "$(dirname "$0")/lib/cache.sh"
cd "$UIOMMU_CACHE"
log() { echo "kernel-source: $*" >&2; }

add_backports() {
	local list=/etc/apt/sources.list.d/uiommu-trixie-backports.sources
	if ! grep -rqs 'trixie-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		[ "$(id -u)" = 0 ] || { log "need root to add trixie-backports to apt sources"; exit 1; }
		write_suite_sources "$list" trixie-backports
		# Download only: never let an install pull anything from this suite.
		printf 'Package: *\nPin: release n=trixie-backports\nPin-Priority: 1\n' \
			> /etc/apt/preferences.d/uiommu-trixie-backports
	fi
	apt-get update -qq >&2
}

if [ ! -d "src/$PKG" ]; then
	if ! ls ${PKG}_*.deb >/dev/null 2>&1; then
		apt-get download "$PKG" >&2 2>/dev/null || { add_backports; apt-get download "$PKG" >&2; }
	fi
	log "unpacking $PKG"
	rm -rf src.tmp && mkdir -p src.tmp
	dpkg-deb --fsys-tarfile ${PKG}_*.deb | tar -x -O "./usr/src/$PKG.tar.xz" | tar -xJ -C src.tmp
	mv src.tmp/"$PKG" src.tmp/"$PKG".d 2>/dev/null || true
	mkdir -p src && mv src.tmp/"$PKG".d "src/$PKG" && rm -rf src.tmp
fi
KS=$UIOMMU_CACHE/src/$PKG
if [ ! -f hdr/include/linux/iommufd.h ]; then
	log "installing uapi headers"
	command -v rsync >/dev/null || apt-get install -y -qq rsync >&2
	rm -rf hdr hout
	make -s -C "$KS" O="$UIOMMU_CACHE/hout" headers_install INSTALL_HDR_PATH="$UIOMMU_CACHE/hdr" >&2
	# The selftest mock's command structures are not uapi; keep a copy beside the headers.
	cp "$KS/drivers/iommu/iommufd/iommufd_test.h" hdr/include/
fi
echo "$UIOMMU_CACHE"
