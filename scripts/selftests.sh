#!/usr/bin/env bash
# Run the Linux 7.3 iommufd selftests (tools/testing/selftests/iommu) under `uiommu exec` and
# check them against tests/selftests/must-pass.txt.
#
#   scripts/selftests.sh [--debug] [--no-build] [--update] [--keep LOGDIR] [--hugepages N]
#
#   --debug      use the debug build of uiommu (default: release)
#   --no-build   do not run cargo (use the binaries already built)
#   --update     add the cases that pass now to must-pass.txt (the list only grows) and
#                rewrite known-failures.txt for the rest, keeping the reasons recorded there
#   --keep DIR   keep each binary's output in DIR (default: a temporary directory)
#   --hugepages N  reserve at least N hugetlb pages for the run (root; restored afterwards):
#                the MAP_HUGETLB cases need them; tests/selftests/must-pass-hugepages.txt
#                lists those that must then pass too (--update adds there the cases whose
#                known-failure reason was the missing huge pages)
#
# Environment:
#   UIOMMU_CACHE              where scripts/kernel-source.sh keeps the kernel source
#   UIOMMU_SELFTEST_TIMEOUT   seconds one selftest binary may run (default 900)
#   CARGO_TARGET_DIR          cargo's target directory (default: target/)
#
# The selftest binaries are built once per source and flags into $UIOMMU_CACHE/selftests/.
# Exits non-zero if a case listed in must-pass.txt did not pass (failed, was skipped, or never
# ran because its binary crashed or timed out).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIST_DIR=$ROOT/tests/selftests
MUST_PASS=$LIST_DIR/must-pass.txt
MUST_PASS_HUGE=$LIST_DIR/must-pass-hugepages.txt
KNOWN=$LIST_DIR/known-failures.txt

profile=release
build=1
update=0
keep=
hugepages=0
while [ $# -gt 0 ]; do
	case $1 in
	--debug) profile=debug ;;
	--no-build) build=0 ;;
	--update) update=1 ;;
	--keep) keep=$2; shift ;;
	--hugepages) hugepages=$2; shift ;;
	-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "selftests: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "selftests: $*" >&2; }

# --- uiommu ---------------------------------------------------------------------------------
target=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$build" = 1 ]; then
	flag=; [ "$profile" = release ] && flag=--release
	cargo build $flag -q -p uiommu-cli -p uiommu-preload
fi
UIOMMU=$target/$profile/uiommu
[ -x "$UIOMMU" ] || { log "no $UIOMMU (build with cargo build -p uiommu-cli -p uiommu-preload)"; exit 1; }

# --- the selftests ---------------------------------------------------------------------------
CACHE=$(scripts/kernel-source.sh)
KS=$CACHE/src/linux-source-7.3
HDR=$CACHE/hdr/include
SRC=$KS/tools/testing/selftests/iommu

if ! echo '#include <sys/capability.h>' | cc -E -x c - >/dev/null 2>&1; then
	log "installing libcap-dev (the selftests link -lcap)"
	[ "$(id -u)" = 0 ] || { log "need libcap-dev: apt-get install libcap-dev"; exit 1; }
	apt-get install -y -qq libcap-dev >&2 || { apt-get update -qq >&2 && apt-get install -y -qq libcap-dev >&2; }
fi

CFLAGS="-Wall -O2 -Wno-unused-function -D_GNU_SOURCE"
key=$( (cat "$SRC"/*.c "$SRC"/*.h "$KS/tools/testing/selftests/kselftest_harness.h" \
	"$HDR/linux/iommufd.h" "$HDR/linux/vfio.h" "$HDR/iommufd_test.h"; cc --version; echo "$CFLAGS") |
	sha256sum | cut -c1-16)
BIN=$CACHE/selftests/$key
build_one() { # name, include dir
	( cd "$SRC" && cc $CFLAGS -isystem "$2" -I"$KS/tools/testing/selftests" \
		-o "$BIN/$1.tmp" "$1.c" -lcap -lpthread ) && mv "$BIN/$1.tmp" "$BIN/$1"
}
for t in iommufd iommufd_fail_nth; do
	[ -x "$BIN/$t" ] && continue
	mkdir -p "$BIN"
	log "building $t"
	if ! build_one $t "$HDR" 2>"$BIN/$t.err"; then
		# Older compilers reject the bounds annotations of newer uapi headers: strip them
		# from a copy of the headers and retry.
		log "retrying $t with __counted_by annotations stripped"
		rm -rf "$BIN/hdr" && cp -r "$HDR" "$BIN/hdr"
		grep -rlZ '__counted_by' "$BIN/hdr" | xargs -0 -r sed -i -E 's/__counted_by(_[a-z]+)?\([^)]*\)//g'
		build_one $t "$BIN/hdr" || { cat "$BIN/$t.err" >&2; exit 1; }
	fi
done

# --- run --------------------------------------------------------------------------------------
tmp_logs=
trap 'rm -rf "${tmp_logs:-/nonexistent}"' EXIT
if [ -n "$keep" ]; then
	mkdir -p "$keep"; LOGS=$(cd "$keep" && pwd)
else
	LOGS=$(mktemp -d); tmp_logs=$LOGS
fi
TIMEOUT=${UIOMMU_SELFTEST_TIMEOUT:-900}
NR=/proc/sys/vm/nr_hugepages
if [ "$hugepages" -gt 0 ] && [ "$(cat $NR)" -lt "$hugepages" ]; then
	old_nr=$(cat $NR)
	# Page cache left by builds fragments memory: drop it and compact before reserving.
	sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
	echo 1 > /proc/sys/vm/compact_memory 2>/dev/null || true
	echo "$hugepages" > $NR || { log "cannot reserve huge pages (need root)"; exit 1; }
	trap 'echo "$old_nr" > '$NR'; rm -rf "${tmp_logs:-/nonexistent}"' EXIT
	got=$(cat $NR)
	if [ "$got" -lt "$hugepages" ]; then
		# The machine cannot give them (not a uiommu failure): run without, and say that the
		# huge-page cases are not checked in this run.
		log "WARNING: only $got of $hugepages huge pages could be reserved;" \
			"must-pass-hugepages.txt is not enforced in this run"
		echo "$old_nr" > $NR
		hugepages=0
	fi
fi
: > "$LOGS/results"
status=0
for t in iommufd iommufd_fail_nth; do
	log "running $t under uiommu exec (timeout ${TIMEOUT}s)"
	rc=0
	# timeout signals its whole process group, so the harness's per-test children go too.
	# fail_nth drives uiommu's own fault injection.
	opts=""; [ "$t" = iommufd_fail_nth ] && opts=--fault-injection
	( cd "$LOGS" && timeout --kill-after=10 "$TIMEOUT" "$UIOMMU" exec $opts -- "$BIN/$t" \
		</dev/null >"$LOGS/$t.log" 2>&1 ) || rc=$?
	[ "$rc" = 124 ] || [ "$rc" = 137 ] && log "$t timed out after ${TIMEOUT}s"
	# "ok N name", "ok N name # SKIP why", "not ok N name [# ...]".
	awk -v bin="$t" '
		/^ok [0-9]+ / { name=$3; r = ($0 ~ /# SKIP/) ? "skip" : (($0 ~ /# XFAIL/) ? "xfail" : "pass"); print bin, r, name; next }
		/^not ok [0-9]+ / { print bin, "fail", $4 }
	' "$LOGS/$t.log" >>"$LOGS/results"
	p=$(grep -c "^$t pass " "$LOGS/results" || true)
	f=$(grep -c "^$t fail " "$LOGS/results" || true)
	s=$(grep -c "^$t skip " "$LOGS/results" || true)
	total=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$LOGS/$t.log" | head -1)
	ran=$((p + f + s))
	echo "$t: pass $p, fail $f, skip $s (of ${total:-?}; exit $rc)"
	if [ -n "$total" ] && [ "$ran" -lt "$total" ]; then
		echo "$t: $((total - ran)) case(s) did not report (crash or timeout)"
	fi
done

# --- compare with the lists -----------------------------------------------------------------
passed=$(awk '$2 == "pass" { print $3 }' "$LOGS/results" | sort -u)
lists=("$MUST_PASS")
[ "$hugepages" -gt 0 ] && lists+=("$MUST_PASS_HUGE")
listed=$(cat "${lists[@]}" 2>/dev/null | grep -v '^\s*\(#\|$\)' | sort -u || true)
missing=$(comm -23 <(echo "$listed" | sed '/^$/d') <(echo "$passed" | sed '/^$/d'))
new=$(comm -13 <(echo "$listed" | sed '/^$/d') <(echo "$passed" | sed '/^$/d'))
echo "must-pass: $(echo "$listed" | sed '/^$/d' | wc -l) listed, $(echo "$missing" | sed '/^$/d' | wc -l) not passing"
if [ -n "$missing" ]; then
	echo "REGRESSIONS (listed in ${lists[*]#$ROOT/}, did not pass):"
	while read -r c; do
		r=$(awk -v c="$c" '$3 == c { print $2 }' "$LOGS/results" | head -1)
		echo "  $c (${r:-did not run})"
	done <<<"$missing"
	status=1
fi
if [ -n "$new" ]; then
	echo "newly passing, not yet in must-pass.txt: $(echo "$new" | wc -l) (run with --update to add)"
fi

if [ "$update" = 1 ]; then
	# A new pass whose recorded reason was the missing huge pages goes to the huge-page list.
	needs_huge=$(awk -F'\t' '$2 ~ /hugetlb/ { print $1 }' "$KNOWN" 2>/dev/null | sort -u)
	new_huge=$(comm -12 <(echo "$new" | sed '/^$/d') <(echo "$needs_huge" | sed '/^$/d'))
	new_plain=$(comm -23 <(echo "$new" | sed '/^$/d') <(echo "$needs_huge" | sed '/^$/d'))
	if [ "$hugepages" -gt 0 ] && [ -n "$new_huge" ]; then
		{
			sed -n '/^#/p' "$MUST_PASS_HUGE" 2>/dev/null || true
			{ grep -v '^\s*\(#\|$\)' "$MUST_PASS_HUGE" 2>/dev/null || true; echo "$new_huge"; } |
				sed '/^$/d' | sort -u
		} > "$MUST_PASS_HUGE.tmp" && mv "$MUST_PASS_HUGE.tmp" "$MUST_PASS_HUGE"
	fi
	{
		sed -n '/^#/p' "$MUST_PASS" 2>/dev/null || true
		{ grep -v '^\s*\(#\|$\)' "$MUST_PASS" 2>/dev/null || true; echo "$new_plain"; } |
			sed '/^$/d' | sort -u
	} > "$MUST_PASS.tmp" && mv "$MUST_PASS.tmp" "$MUST_PASS"
	# Every other case, with the reason recorded for it before (or "unclassified").
	{
		sed -n '/^#/p' "$KNOWN" 2>/dev/null || true
		awk '$2 != "pass" { print $3 }' "$LOGS/results" | sort -u |
			comm -23 - <(cat "$MUST_PASS" "$MUST_PASS_HUGE" 2>/dev/null | sort -u) |
			while read -r c; do
				why=$(awk -F'\t' -v c="$c" '$1 == c { print $2; exit }' "$KNOWN" 2>/dev/null || true)
				printf '%s\t%s\n' "$c" "${why:-unclassified}"
			done
	} > "$KNOWN.tmp" && mv "$KNOWN.tmp" "$KNOWN"
	log "updated $MUST_PASS and $KNOWN"
fi
exit $status
