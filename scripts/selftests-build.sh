#!/usr/bin/env bash
# Build Linux 7.3's own selftests of one suite, unmodified, from Debian's linux-source-7.3
# (scripts/kernel-source.sh), once per source, compiler and flags, into
# $UIOMMU_CACHE/selftests/SUITE-KEY/, and print that directory:
#   iommufd  tools/testing/selftests/iommu: iommufd, iommufd_fail_nth
#   vfio     tools/testing/selftests/vfio: the 7 binaries over libvfio (libvfio.mk's list)
#
#   scripts/selftests-build.sh iommufd|vfio [--static]
#
#   --static   link statically (for a guest with no libraries: scripts/real-kernel/run.sh)
#
# Installs the -dev package a suite links with when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:?usage: selftests-build.sh iommufd|vfio [--static]}
LDSTATIC=
[ "${2:-}" = --static ] && LDSTATIC=-static
log() { echo "selftests-build: $*" >&2; }

CACHE=$(scripts/kernel-source.sh)
KS=$CACHE/src/linux-source-7.3
HDR=$CACHE/hdr/include
KSFT=$KS/tools/testing/selftests
CFLAGS="-Wall -O2 -Wno-unused-function -D_GNU_SOURCE"

need_dev() { # header, package: the selftests link -lcap (iommufd) and -luuid (vfio)
	echo "#include <$1>" | cc -E -x c - >/dev/null 2>&1 && return
	log "installing $2"
	[ "$(id -u)" = 0 ] || { log "need $2: apt-get install $2"; exit 1; }
	apt-get install -y -qq "$2" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "$2" >&2; }
}

# compile_with INCLUDE_DIR: the suite's build, with the uapi headers in INCLUDE_DIR.
compile_iommufd() {
	for t in iommufd iommufd_fail_nth; do
		( cd "$KSFT/iommu" && cc $CFLAGS $LDSTATIC -isystem "$1" -I"$KSFT" -o "$OUT/$t.tmp" \
			"$t.c" -lcap -lpthread ) && mv "$OUT/$t.tmp" "$OUT/$t" || return 1
	done
}
VFIO_BINS="vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_iommufd_setup_test
	vfio_pci_device_test vfio_pci_device_init_perf_test vfio_pci_driver_test
	vfio_pci_sriov_uapi_test"
compile_vfio() {
	local src=$KSFT/vfio objs=() o
	local inc=(-isystem "$1" -I"$KS/tools/include" -I"$src/lib/include" -I"$KSFT")
	mkdir -p "$OUT/lib"
	# libvfio.mk's list for x86_64.
	for c in iommu iova_allocator libvfio sysfs vfio_pci_device vfio_pci_driver \
		drivers/ioat/ioat drivers/dsa/dsa drivers/nv_falcon/nv_falcon drivers/igb/igb; do
		o=$OUT/lib/${c//\//_}.o
		cc $CFLAGS "${inc[@]}" -c "$src/lib/$c.c" -o "$o" || return 1
		objs+=("$o")
	done
	for t in $VFIO_BINS; do
		cc $CFLAGS $LDSTATIC "${inc[@]}" -o "$OUT/$t.tmp" "$src/$t.c" "${objs[@]}" \
			-pthread -luuid &&
			mv "$OUT/$t.tmp" "$OUT/$t" || return 1
	done
}

build_suite() { # sets OUT to the binaries
	local src key
	case $suite in
	iommufd) src=$KSFT/iommu; need_dev sys/capability.h libcap-dev ;;
	vfio) src=$KSFT/vfio; need_dev uuid/uuid.h uuid-dev ;;
	esac
	key=$( (find "$src" "$KS/tools/include" -name '*.[ch]' -print0 | sort -z | xargs -0 cat
		cat "$KSFT/kselftest_harness.h" "$KSFT/kselftest.h" "$HDR/linux/iommufd.h" \
			"$HDR/linux/vfio.h" "$HDR/iommufd_test.h"
		cc --version; echo "$suite $CFLAGS $LDSTATIC") | sha256sum | cut -c1-16)
	OUT=$CACHE/selftests/$suite-$key${LDSTATIC:+-static}
	[ -f "$OUT/binaries" ] && return
	rm -rf "$OUT" && mkdir -p "$OUT"
	log "building the $suite selftests"
	if ! "compile_$suite" "$HDR" 2>"$OUT/build.err"; then
		# Older compilers reject the bounds annotations of newer uapi headers: strip them
		# from a copy of the headers and retry.
		log "retrying with __counted_by annotations stripped"
		rm -rf "$OUT/hdr" && cp -r "$HDR" "$OUT/hdr"
		grep -rlZ '__counted_by' "$OUT/hdr" | xargs -0 -r sed -i -E 's/__counted_by(_[a-z]+)?\([^)]*\)//g'
		"compile_$suite" "$OUT/hdr" 2>"$OUT/build.err" || { cat "$OUT/build.err" >&2; exit 1; }
	fi
	# What was built, in the order a run takes them.
	case $suite in
	iommufd) echo iommufd iommufd_fail_nth ;;
	vfio) echo $VFIO_BINS ;;
	esac >"$OUT/binaries"
}

build_suite
echo "$OUT"
