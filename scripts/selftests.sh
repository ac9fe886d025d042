#!/usr/bin/env bash
# Run Linux 7.3's own selftests under `uiommu exec` and check them against the lists in
# tests/selftests/SUITE/:
#   iommufd  tools/testing/selftests/iommu: iommufd and iommufd_fail_nth (the selftest's mock
#            devices, IOMMU_TEST_CMD)
#   vfio     tools/testing/selftests/vfio: the 7 VFIO binaries, once behind every IOMMU model
#            `uiommu drivers` lists against each emulated device of VFIO_DEVICES: edu (a case
#            is named MODEL/FIXTURE.variant.test) and the IOAT DMA engine whose selftest
#            driver vfio_pci_driver_test runs (MODEL/ioat/FIXTURE.variant.test); and
#            vfio_pci_sriov_uapi_test alone against VFIO_SRIOV_DEVICE, an SR-IOV physical
#            function (MODEL/ioat-sriov/FIXTURE.variant.test); then again behind the models
#            of VFIO_TYPE1_MODELS with `--vfio-container type1`, the legacy VFIO container
#            of a CONFIG_VFIO_CONTAINER kernel as /dev/vfio/vfio
#            (MODEL/type1/FIXTURE.variant.test, MODEL/type1/ioat/FIXTURE.variant.test, …)
#
#   scripts/selftests.sh [--suite iommufd|vfio] [--debug] [--no-build] [--update] [--keep DIR]
#                        [--hugepages N]
#
#   --suite S    run only suite S (default: both)
#   --debug      use the debug build of uiommu (default: release)
#   --no-build   do not run cargo (use the binaries already built)
#   --update     add the cases that pass now to must-pass.txt (the lists only grow) and
#                rewrite known-failures.txt for the rest, keeping the reasons recorded there
#   --keep DIR   keep each binary's output in DIR (default: a temporary directory)
#   --hugepages N  reserve at least N 2 MiB hugetlb pages and one 1 GiB page for the run (root;
#                restored afterwards): the MAP_HUGETLB cases need them. must-pass-hugepages.txt
#                (2 MiB) and must-pass-hugepages-1g.txt list those that must then pass too;
#                a list whose pages the machine cannot give is not enforced, with a warning.
#                --update adds there the cases whose known-failure reason names the pages
#
# Environment:
#   UIOMMU_CACHE              where scripts/kernel-source.sh keeps the kernel source
#   UIOMMU_SELFTEST_TIMEOUT   seconds one selftest binary may run (default 900)
#   CARGO_TARGET_DIR          cargo's target directory (default: target/)
#
# The selftest binaries are built by scripts/selftests-build.sh, once per source and flags.
# Exits non-zero if a listed case did not pass (failed, was skipped, or never ran because its
# binary crashed, skipped as a whole or timed out).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

suites="iommufd vfio"
profile=release
build=1
update=0
keep=
hugepages=0
while [ $# -gt 0 ]; do
	case $1 in
	--suite) suites=$2; shift ;;
	--debug) profile=debug ;;
	--no-build) build=0 ;;
	--update) update=1 ;;
	--keep) keep=$2; shift ;;
	--hugepages) hugepages=$2; shift ;;
	-h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "selftests: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "selftests: $*" >&2; }
for s in $suites; do
	case $s in iommufd|vfio) ;; *) log "unknown suite $s"; exit 2 ;; esac
done

# --- uiommu ---------------------------------------------------------------------------------
target=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$build" = 1 ]; then
	flag=; [ "$profile" = release ] && flag=--release
	cargo build $flag -q -p uiommu-cli -p uiommu-preload
fi
UIOMMU=$target/$profile/uiommu
[ -x "$UIOMMU" ] || { log "no $UIOMMU (build with cargo build -p uiommu-cli -p uiommu-preload)"; exit 1; }

# --- huge pages -------------------------------------------------------------------------------
tmp_logs=
restore=()
cleanup() {
	local r
	for r in "${restore[@]}"; do eval "$r"; done
	rm -rf "${tmp_logs:-/nonexistent}"
}
trap cleanup EXIT
# reserve FILE COUNT: at least COUNT pages in the pool FILE; 0 if the machine gave them.
reserve() {
	local nr=$1 want=$2 old
	old=$(cat "$nr" 2>/dev/null) || return 1
	[ "$old" -ge "$want" ] && return 0
	# Page cache left by builds fragments memory: drop it and compact before reserving.
	sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
	echo 1 > /proc/sys/vm/compact_memory 2>/dev/null || true
	echo "$want" > "$nr" 2>/dev/null || { log "cannot reserve huge pages (need root)"; return 1; }
	restore+=("echo $old > $nr")
	[ "$(cat "$nr")" -ge "$want" ] && return 0
	echo "$old" > "$nr"
	return 1
}
huge2m=0
huge1g=0
if [ "$hugepages" -gt 0 ]; then
	if reserve /proc/sys/vm/nr_hugepages "$hugepages"; then huge2m=1; else
		log "WARNING: $hugepages huge pages of 2 MiB could not be reserved;" \
			"must-pass-hugepages.txt is not enforced in this run"
	fi
	if reserve /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 1; then huge1g=1; else
		log "WARNING: no 1 GiB huge page could be reserved;" \
			"must-pass-hugepages-1g.txt is not enforced in this run"
	fi
fi

if [ -n "$keep" ]; then
	mkdir -p "$keep"; LOGS=$(cd "$keep" && pwd)
else
	LOGS=$(mktemp -d); tmp_logs=$LOGS
fi
TIMEOUT=${UIOMMU_SELFTEST_TIMEOUT:-900}

# run_one LOG PREFIX BINARY OPTIONS...: the binary under `uiommu exec OPTIONS`, its cases
# appended to $RESULTS as "BINARY RESULT PREFIXNAME".
run_one() {
	local log=$1 prefix=$2 bin=$3 t rc=0 p f s total ran
	shift 3
	t=$(basename "$bin")
	# timeout signals its whole process group, so the harness's per-test children go too.
	( cd "$LOGS" && timeout --kill-after=10 "$TIMEOUT" "$UIOMMU" exec "$@" \
		</dev/null >"$log" 2>&1 ) || rc=$?
	[ "$rc" = 124 ] || [ "$rc" = 137 ] && log "$t timed out after ${TIMEOUT}s"
	# "ok N name", "ok N name # SKIP why", "not ok N name [# ...]".
	awk -v bin="$t" -v pre="$prefix" '
		/^ok [0-9]+ / { r = ($0 ~ /# SKIP/) ? "skip" : (($0 ~ /# XFAIL/) ? "xfail" : "pass"); print bin, r, pre $3; next }
		/^not ok [0-9]+ / { print bin, "fail", pre $4 }
	' "$log" >"$log.results"
	total=$(sed -n 's/^1\.\.\([0-9]*\).*$/\1/p' "$log" | head -1)
	if [ ! -s "$log.results" ]; then
		# The binary stopped before its harness ran a case (a skip of the whole binary, e.g.
		# "No driver found" or "1..0 # SKIP why", or a crash): one line for all of it.
		echo "$t skip $prefix$t.*" >"$log.results"
		echo "$prefix$t: no case ran (exit $rc): $(grep -v '^$' "$log" | tail -n 1)"
	else
		p=$(grep -c " pass " "$log.results" || true)
		f=$(grep -c " fail " "$log.results" || true)
		s=$(grep -c " skip " "$log.results" || true)
		ran=$((p + f + s))
		echo "$prefix$t: pass $p, fail $f, skip $s (of ${total:-?}; exit $rc)"
		if [ -n "$total" ] && [ "$ran" -lt "$total" ]; then
			echo "$prefix$t: $((total - ran)) case(s) did not report (crash or timeout)"
		fi
	fi
	cat "$log.results" >>"$RESULTS"
}

run_iommufd() {
	run_one "$LOGS/iommufd.log" "" "$OUT/iommufd" -- "$OUT/iommufd"
	# fail_nth drives uiommu's own fault injection.
	run_one "$LOGS/iommufd_fail_nth.log" "" "$OUT/iommufd_fail_nth" \
		--fault-injection -- "$OUT/iommufd_fail_nth"
}

# The devices the VFIO selftests drive, one at a time, at one address (VFIO_SELFTESTS_BDF's
# format). edu's cases keep the names they were first listed under.
VFIO_DEVICES="edu ioat"
VFIO_BDF=0000:00:10.0
# The SR-IOV physical function vfio_pci_sriov_uapi_test needs (the other devices have no
# sriov_totalvfs, and the binary skips as a whole on them, as on Linux): its cases are named
# MODEL/NAME/…, with NAME the `--device` model and `-sriov`. The other binaries run on the
# IOAT engine already.
VFIO_SRIOV_DEVICE=ioat,vfs=1
VFIO_SRIOV_BINARY=vfio_pci_sriov_uapi_test
# The models run a second time with the legacy type1 container as /dev/vfio/vfio (beside
# /dev/iommu, as a CONFIG_VFIO_CONTAINER kernel has both): every mode of a binary then meets
# the container it would on such a kernel.
VFIO_TYPE1_MODELS="vtd"
# run_vfio_model MODEL CONTAINER: every binary against every device behind MODEL, with
# /dev/vfio/vfio the CONTAINER kind (`uiommu exec --vfio-container`).
run_vfio_model() {
	local model=$1 container=$2 dev prefix base t
	base=$model/
	[ "$container" = iommufd ] || base=$model/$container/
	for dev in $VFIO_DEVICES; do
		prefix=$base
		[ "$dev" = edu ] || prefix=$base$dev/
		for t in $(cat "$OUT/binaries"); do
			run_one "$LOGS/$model-$container-$dev-$t.log" "$prefix" "$OUT/$t" \
				--driver "$model" --vfio-container "$container" \
				--device "$dev,bdf=$VFIO_BDF" -- "$OUT/$t" "$VFIO_BDF"
		done
	done
	dev=${VFIO_SRIOV_DEVICE%%,*}-sriov
	t=$VFIO_SRIOV_BINARY
	grep -qw "$t" "$OUT/binaries" || return 0
	run_one "$LOGS/$model-$container-$dev-$t.log" "$base$dev/" "$OUT/$t" \
		--driver "$model" --vfio-container "$container" \
		--device "$VFIO_SRIOV_DEVICE,bdf=$VFIO_BDF" -- "$OUT/$t" "$VFIO_BDF"
}
run_vfio() {
	local model
	for model in $("$UIOMMU" drivers | cut -d' ' -f1); do
		run_vfio_model "$model" iommufd
	done
	for model in $VFIO_TYPE1_MODELS; do
		run_vfio_model "$model" type1
	done
}

# --- compare with the lists -----------------------------------------------------------------
lines() { grep -hv '^\s*\(#\|$\)' "$@" 2>/dev/null | sort -u || true; }
nonempty() { sed '/^$/d'; }
# add_to LIST CASES: CASES join LIST, which keeps its header and stays sorted.
add_to() {
	[ -n "$2" ] || return 0
	{
		sed -n '/^#/p' "$1" 2>/dev/null || true
		{ lines "$1"; echo "$2"; } | nonempty | sort -u
	} >"$1.tmp" && mv "$1.tmp" "$1"
}
check_suite() { # suite
	local dir=$ROOT/tests/selftests/$1 lists passed listed missing new c r
	local must=$dir/must-pass.txt list2m=$dir/must-pass-hugepages.txt
	local list1g=$dir/must-pass-hugepages-1g.txt known=$dir/known-failures.txt
	lists=("$must")
	[ "$huge2m" = 1 ] && lists+=("$list2m")
	[ "$huge1g" = 1 ] && lists+=("$list1g")
	passed=$(awk '$2 == "pass" { print $3 }' "$RESULTS" | sort -u)
	listed=$(lines "${lists[@]}")
	missing=$(comm -23 <(echo "$listed" | nonempty) <(echo "$passed" | nonempty))
	new=$(comm -13 <(echo "$listed" | nonempty) <(echo "$passed" | nonempty))
	echo "$1 must-pass: $(echo "$listed" | nonempty | wc -l) listed," \
		"$(echo "$missing" | nonempty | wc -l) not passing"
	if [ -n "$missing" ]; then
		echo "REGRESSIONS (listed in ${lists[*]#$ROOT/}, did not pass):"
		while read -r c; do
			r=$(awk -v c="$c" '$3 == c { print $2 }' "$RESULTS" | head -1)
			echo "  $c (${r:-did not run})"
		done <<<"$missing"
		status=1
	fi
	if [ -n "$new" ] && [ "$update" = 0 ]; then
		echo "$1: newly passing, not yet listed: $(echo "$new" | wc -l) (run with --update to add)"
	fi
	[ "$update" = 1 ] || return 0
	touch "$must" "$known"
	# A new pass whose recorded reason was the missing huge pages goes to that size's list.
	local need1g need2m
	need1g=$(awk -F'\t' '$2 ~ /1 GiB huge page/ { print $1 }' "$known" 2>/dev/null | sort -u)
	need2m=$(awk -F'\t' '$2 ~ /hugetlb/ && $2 !~ /1 GiB huge page/ { print $1 }' "$known" \
		2>/dev/null | sort -u)
	[ "$huge1g" = 1 ] && add_to "$list1g" "$(comm -12 <(echo "$new" | nonempty) <(echo "$need1g"))"
	[ "$huge2m" = 1 ] && add_to "$list2m" "$(comm -12 <(echo "$new" | nonempty) <(echo "$need2m"))"
	add_to "$must" "$(comm -23 <(echo "$new" | nonempty) <(echo "$need1g"$'\n'"$need2m" | sort -u))"
	# Every other case, with the reason recorded for it before (or "unclassified").
	{
		sed -n '/^#/p' "$known" 2>/dev/null || true
		awk '$2 != "pass" { print $3 }' "$RESULTS" | sort -u |
			comm -23 - <(lines "$must" "$list2m" "$list1g") |
			while read -r c; do
				r=$(awk -F'\t' -v c="$c" '$1 == c { print $2; exit }' "$known" 2>/dev/null || true)
				printf '%s\t%s\n' "$c" "${r:-unclassified}"
			done
	} >"$known.tmp" && mv "$known.tmp" "$known"
	log "updated the lists in ${dir#$ROOT/}"
}

status=0
for suite in $suites; do
	OUT=$(scripts/selftests-build.sh "$suite")
	RESULTS=$LOGS/$suite.results
	: >"$RESULTS"
	log "running the $suite selftests under uiommu exec (timeout ${TIMEOUT}s per binary)"
	"run_$suite"
	check_suite "$suite"
done
exit $status
