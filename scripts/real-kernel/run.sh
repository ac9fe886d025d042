#!/usr/bin/env bash
# The real-kernel leg: the client's integration tests (crates/client/tests) on a real Linux 7.3
# kernel with IOMMUFD and IOMMUFD_TEST, booted in QEMU (TCG; no KVM; root for apt-get and
# the nested boot's chroot).
#
#   scripts/real-kernel/run.sh
#
# Steps: apt prerequisites (installed if missing), Debian's linux-source-7.3 via
# scripts/kernel-source.sh, a tinyconfig + iommu.config bzImage built and cached beside the
# source (outside the clone), the scenarios built as one static test executable, the kernel's
# VFIO selftests built static (scripts/selftests-build.sh), an initramfs (busybox and those),
# three boots: QEMU's edu behind QEMU's VT-d; uiommu's edu assigned by QEMU 10 under
# `uiommu exec` behind QEMU's VT-d in caching mode (shadowed IOAS_MAP/UNMAP); the same with
# QEMU 11 from a cached trixie root (scripts/qemu11-root.sh) and host first-stage translation
# (nested HWPTs). In each the VFIO selftests run in the guest against the edu; their cases are
# compared with what uiommu must pass behind its VT-d model (vfio_selftests_compare).
# The guest's verdict comes back as QEMU's exit status through isa-debug-exit (1: pass,
# 3: fail). Exits 0 only if every scenario passed and the VFIO selftests agree.
#
# Env: UIOMMU_CACHE      cache root (see scripts/kernel-source.sh)
#      CARGO_TARGET_DIR  cargo's target dir (default: <repo>/target)
#      BOOTS             all (default), or first: only the boot on QEMU's edu (the scenarios,
#                        the VFIO selftests, uiommu info, uiommu trace and the bench)
#      TEST_ARGS         extra arguments for the test executable (e.g. a name filter); the
#                        default, --include-ignored, also runs the scenarios marked
#                        `#[ignore = "uiommu differs: ..."]`: the kernel must pass them
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TRIPLE=x86_64-unknown-linux-gnu
ts() { date +%s.%N; }
timed() { # name command...; keeps the command's status
	local name=$1 s rc=0; shift; s=$(ts)
	"$@" || rc=$?
	printf 'TIMING %-14s %6.1fs\n' "$name" "$(echo "$(ts) - $s" | bc)" >&2
	return $rc
}
log() { echo "real-kernel: $*" >&2; }

prereqs() {
	local missing=()
	[ -x /bin/busybox ] || missing+=(busybox-static)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v flex >/dev/null || missing+=(flex)
	command -v bison >/dev/null || missing+=(bison)
	command -v bc >/dev/null || missing+=(bc)
	command -v gcc >/dev/null && command -v make >/dev/null || missing+=(build-essential)
	[ -f /usr/include/libelf.h ] || missing+=(libelf-dev)
	[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
	[ -f /usr/include/sys/capability.h ] || missing+=(libcap-dev)
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	# QEMU from bookworm-backports (same release, newer QEMU), never a newer suite.
	"$REPO/scripts/install-qemu.sh"
}

kernel() { # builds $KOUT/arch/x86/boot/bzImage; the config follows iommu.config's hash
	local sum; sum=$(sha256sum "$HERE/iommu.config" | cut -d' ' -f1)
	if [ "$(cat "$KOUT/.fragment.sha256" 2>/dev/null)" != "$sum" ]; then
		log "configuring the kernel"
		rm -rf "$KOUT"; mkdir -p "$KOUT"
		make -s -C "$KS" O="$KOUT" tinyconfig >/dev/null
		"$KS/scripts/kconfig/merge_config.sh" -O "$KOUT" -m "$KOUT/.config" "$HERE/iommu.config" >/dev/null
		make -s -C "$KS" O="$KOUT" olddefconfig >/dev/null
		for opt in IOMMUFD IOMMUFD_TEST MEMFD_CREATE X86_IOPL_IOPERM CROSS_MEMORY_ATTACH SECCOMP_FILTER; do
			grep -q "^CONFIG_$opt=y" "$KOUT/.config" || { log "CONFIG_$opt did not stick"; exit 1; }
		done
		echo "$sum" > "$KOUT/.fragment.sha256"
	fi
	make -C "$KS" O="$KOUT" -j"$(nproc)" bzImage > "$WORK/kbuild.log" 2>&1 ||
		{ tail -30 "$WORK/kbuild.log"; exit 1; }
}

tests() { # builds the static scenario executable into $WORK/tests/
	local exe
	exe=$(cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static" \
		cargo test -q -p uiommu-client --test uapi --no-run --target "$TRIPLE" \
		--message-format=json 2>"$WORK/cargo.log" |
		sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1) ||
		{ cat "$WORK/cargo.log"; exit 1; }
	[ -n "$exe" ] || { cat "$WORK/cargo.log"; exit 1; }
	# Static (or static-pie, Rust's crt-static default): no dynamic dependencies at all.
	! readelf -d "$exe" | grep -q NEEDED || { log "$exe is not static"; exit 1; }
	rm -rf "$WORK/tests"; mkdir -p "$WORK/tests"
	cp "$exe" "$WORK/tests/uapi"
	gcc -static -O2 -o "$WORK/qexit" "$HERE/guest/qexit.c"
	local vfio
	vfio=$("$REPO/scripts/selftests-build.sh" vfio --static)
	rm -rf "$WORK/vfio-selftests"; mkdir -p "$WORK/vfio-selftests"
	for t in $(cat "$vfio/binaries"); do cp "$vfio/$t" "$WORK/vfio-selftests/"; done
}

# The front end's bench (crates/client/examples/bench), release builds of it, uiommu and the
# preload library with the shared libraries they load, into $WORK/bench/. The guest runs the
# same program on the kernel and under `uiommu exec`, on the same emulated CPU, so that each
# figure's ratio to a system call compares across the two.
bench() {
	local target=${CARGO_TARGET_DIR:-$REPO/target}/release f lib
	# The library goes beside the binary, so the binary need not carry its own copy.
	(cd "$REPO" && UIOMMU_EMBED_PRELOAD=0 cargo build -q --release -p uiommu-cli -p uiommu-preload &&
		cargo build -q --release -p uiommu-client --example bench) || return 1
	rm -rf "$WORK/bench"; mkdir -p "$WORK/bench/root"
	cp "$target/uiommu" "$target/libuiommu_preload.so" "$target/examples/bench" "$WORK/bench/"
	for f in "$WORK/bench/uiommu" "$WORK/bench/libuiommu_preload.so" "$WORK/bench/bench"; do
		ldd "$f" | grep -o '/[^ ]*'
	done | sort -u | while read -r lib; do
		mkdir -p "$WORK/bench/root$(dirname "$lib")"
		cp -L "$lib" "$WORK/bench/root$lib"
	done
}

initramfs() {
	local root="$WORK/root"
	rm -rf "$root"; mkdir -p "$root"/{bin,proc,sys,dev,tests,tmp,vfio-selftests}
	cp /bin/busybox "$root/bin/busybox"
	for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
	cp "$HERE/guest/init" "$root/init"
	cp "$WORK/qexit" "$root/bin/qexit"
	cp "$WORK/tests/"* "$root/tests/"
	cp "$WORK/vfio-selftests/"* "$root/vfio-selftests/"
	cp -a "$WORK/bench/root/." "$root/"
	mkdir -p "$root/bench"
	cp "$WORK/bench/uiommu" "$WORK/bench/libuiommu_preload.so" "$WORK/bench/bench" "$root/bench/"
	printf '%s\n' "${TEST_ARGS---include-ignored}" > "$root/test-args"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
}

# boot LOG COMMAND...: one boot of the guest by `COMMAND QEMU-ARGUMENTS...`, its console in
# $WORK/LOG and the host side's stderr (QEMU's warnings, uiommu's logs) in $WORK/LOG.stderr, so
# that a warning cannot land inside a line the guest prints; passes if the guest's verdict
# (isa-debug-exit) is a pass.
# no_timer_check: under TCG on a loaded host the guest's check that the timer interrupt
# arrives through the interrupt-remapped IO-APIC can time out and panic the boot ("timer
# doesn't work through Interrupt-remapped IO-APIC"); the check is about hardware quirks.
#
# Under TCG on a loaded host the guest, once in a long while, stops between printing its
# verdict and reaching isa-debug-exit (both vCPUs idle, its timer silent): a watchdog gives
# QEMU 60 s after the verdict line, then stops it and takes the verdict from the console.
boot() {
	local log=$WORK/$1 rc=0 pid waited=0
	shift
	: >"$log"
	timeout 1200 "$@" -accel tcg -M q35 -m 1G -smp 2 -nographic -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$KOUT/arch/x86/boot/bzImage" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet intel_iommu=on no_timer_check ${APPEND:-}" \
		> "$log" 2> "$log.stderr" </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if grep -aq '^GUEST: done, .* verdict=' "$log"; then
			waited=$((waited + 1))
			if [ "$waited" -ge 60 ]; then
				log "QEMU did not exit 60 s after the guest's verdict; stopping it"
				# timeout(1) passes the signal on to the command's process group.
				kill -TERM "$pid" 2>/dev/null || true
				break
			fi
		fi
		sleep 1
	done
	wait "$pid" || rc=$?
	grep -a -E '^test result|FAILED|panicked|^GUEST|DMAR' "$log" | grep -av '^test .* ok$' || true
	if [ "$waited" -ge 60 ]; then
		rc=$(sed -n 's/^GUEST: done, .* verdict=\([0-9]*\).*/\1/p' "$log" | tr -d '\r' | tail -1)
		rc=$(( (${rc:-1} << 1) | 1 ))
	fi
	if [ "$rc" = 1 ]; then log "PASS (log: $log)"; return 0; fi
	tail -20 "$log.stderr" >&2
	log "FAIL: QEMU exit status $rc (log: $log, stderr: $log.stderr)"
	return 1
}

# The guest on QEMU's own edu. The emulated VT-d is listed first, before the PCI devices whose
# DMA it translates. Interrupt remapping stays on (TCG has no in-kernel irqchip for it to
# conflict with): without it the guest has no isolated MSI, and VFIO_SET_IOMMU and
# VFIO_DEVICE_BIND_IOMMUFD are EPERM unless allow_unsafe_interrupts. edu is the device the DMA
# scenarios (crates/client/tests/uapi/edu.rs) assign to the guest's VFIO.
boot_qemu_edu() {
	APPEND=uiommu_bench boot guest.log qemu-system-x86_64 -device intel-iommu,intremap=on -device edu
}

# The same guest, but its edu is uiommu's: the unmodified QEMU runs under `uiommu exec` behind
# uiommu's VT-d model and assigns the emulated edu with vfio-pci through iommufd (`-object
# iommufd`); its own VT-d in caching mode shadows the guest's IO page tables into the IOAS
# (IOAS_MAP/UNMAP), so the guest driver's DMA goes guest IOVA -> QEMU's VT-d -> uiommu's VT-d
# -> QEMU's RAM, with no IOMMU hardware anywhere.
boot_uiommu_edu() {
	uiommu_built || return 1
	boot guest-uiommu.log "${UIOMMU_EXEC[@]}" \
		qemu-system-x86_64 -device intel-iommu,intremap=on,caching-mode=on \
		-object iommufd,id=iommufd0 -device vfio-pci,host=0000:00:10.0,iommufd=iommufd0
}

# The same through QEMU's legacy VFIO path: `-device vfio-pci,host=` without iommufd opens the
# device's group `/dev/vfio/N`, puts it in a `/dev/vfio/vfio` container with the type1 IOMMU
# and maps with VFIO_IOMMU_MAP_DMA (uiommu's iommufd-backed compat container).
boot_uiommu_legacy() {
	uiommu_built || return 1
	boot guest-legacy.log "${UIOMMU_EXEC[@]}" \
		qemu-system-x86_64 -device intel-iommu,intremap=on,caching-mode=on \
		-device vfio-pci,host=0000:00:10.0
}

# The same behind virtio-iommu instead of a VT-d: QEMU maps what the guest's virtio-iommu
# driver asks for. virtio-iommu isolates no MSI on x86, so the guest's VFIO needs
# allow_unsafe_interrupts, as on any host with such an IOMMU.
boot_uiommu_virtio() {
	uiommu_built || return 1
	APPEND="vfio_iommu_type1.allow_unsafe_interrupts=1 iommufd.allow_unsafe_interrupts=1" \
		boot guest-virtio.log "${UIOMMU_EXEC[@]}" \
		qemu-system-x86_64 -device virtio-iommu-pci \
		-object iommufd,id=iommufd0 -device vfio-pci,host=0000:00:10.0,iommufd=iommufd0
}

# Builds uiommu and sets UIOMMU_EXEC: `uiommu exec` behind its VT-d model with the emulated edu
# at 0000:00:10.0, the address the boots assign.
UIOMMU_EXEC=()
uiommu_built() {
	local target=${CARGO_TARGET_DIR:-$REPO/target}
	(cd "$REPO" && cargo build -q -p uiommu-cli -p uiommu-preload) || return 1
	UIOMMU_EXEC=("$target/debug/uiommu" exec --driver vtd --device edu,bdf=0000:00:10.0 --)
}

# The nested step: QEMU 11 (from the trixie root scripts/qemu11-root.sh caches; it needs
# trixie's libc, so it runs chrooted there with the uiommu binaries and the kernel bind-mounted
# at their own paths) with its VT-d in scalable mode and first-stage translation by the host
# (fsts=on). QEMU allocates a nest-parent HWPT over the IOAS, binds each first-stage PASID
# entry the guest programs as a nested HWPT (IOMMU_HWPT_DATA_VTD_S1) over it and forwards the
# guest's PASID-based IOTLB invalidations with IOMMU_HWPT_INVALIDATE, so the guest driver's DMA
# is translated by uiommu's VT-d model in two stages: the guest's first-stage table, then the
# IOAS.
boot_uiommu_nested() {
	local target=${CARGO_TARGET_DIR:-$REPO/target} root err=$WORK/guest-nested.log.stderr rc=0
	root=$("$REPO/scripts/qemu11-root.sh") || return 1
	(cd "$REPO" && cargo build -q -p uiommu-cli -p uiommu-preload) || return 1
	# uiommu prints each HWPT allocation and invalidation (UIOMMU_LOG_HWPT) and each fault the
	# edu's DMA takes in its VT-d model (UIOMMU_LOG_FAULTS) to the stderr boot keeps.
	boot guest-nested.log "$HERE/in-root.sh" "$root" "$target" "$CACHE/real-kernel" -- \
		env UIOMMU_LOG_HWPT=1 UIOMMU_LOG_FAULTS=1 \
		"$target/debug/uiommu" exec --driver vtd --device edu,bdf=0000:00:10.0 -- \
		qemu-system-x86_64 -device intel-iommu,intremap=on,caching-mode=on,scalable-mode=on,fsts=on \
		-object iommufd,id=iommufd0 -device vfio-pci,host=0000:00:10.0,iommufd=iommufd0 || rc=1
	# data_type 1 is IOMMU_HWPT_DATA_VTD_S1; flags 0x1 is IOMMU_HWPT_ALLOC_NEST_PARENT.
	local s1 s1_ok inv inv_ok
	touch "$err"
	s1=$(grep -c '^uiommu: IOMMU_HWPT_ALLOC .* data_type 1 ' "$err" || true)
	s1_ok=$(grep -c '^uiommu: IOMMU_HWPT_ALLOC .* data_type 1 .* -> hwpt ' "$err" || true)
	inv=$(grep -c '^uiommu: IOMMU_HWPT_INVALIDATE ' "$err" || true)
	inv_ok=$(grep -c '^uiommu: IOMMU_HWPT_INVALIDATE .* entries handled$' "$err" || true)
	grep -m1 '^uiommu: IOMMU_HWPT_ALLOC .* flags 0x[0-9a-f]*[13579bdf] ' "$err" |
		sed 's/^uiommu: /real-kernel: nest parent: /' >&2 || true
	grep -m1 '^uiommu: IOMMU_HWPT_ALLOC .* data_type 1 ' "$err" |
		sed 's/^uiommu: /real-kernel: first nested HWPT: /' >&2 || true
	grep -m1 '^uiommu: IOMMU_HWPT_INVALIDATE ' "$err" |
		sed 's/^uiommu: /real-kernel: first invalidation: /' >&2 || true
	log "nested: faults uiommu's VT-d recorded in the guest's first stage: $(grep -c '^uiommu: .*IOMMU fault recorded: .*stage: First' "$err" || true)"
	log "nested: uiommu took $s1_ok of $s1 VTD_S1 HWPT allocations and $inv_ok of $inv IOMMU_HWPT_INVALIDATE calls (log: $err)"
	if [ "$s1" = 0 ] || [ "$inv" = 0 ] || [ "$s1" != "$s1_ok" ] || [ "$inv" != "$inv_ok" ]; then
		log "FAIL: the guest's first stage was not bound and invalidated through uiommu"
		rc=1
	fi
	return $rc
}

# The bench's figures from the guest's console (boot_qemu_edu asks for them), kernel and uiommu
# side by side: each line is the operation, then its figure and ratio on each.
bench_report() { # LOG
	local log=$WORK/$1
	grep -aq '^BENCH kernel: ' "$log" || { log "bench: no figures in $log"; return 0; }
	log "bench in the guest, same program on the kernel and under uiommu exec (ns per call):"
	tr -d '\r' <"$log" | awk '
		/^BENCH (kernel|uiommu): / {
			side = $2; sub(/:$/, "", side); line = substr($0, length("BENCH kernel: ") + 1)
			if (line ~ /^exit [0-9]+$/) next
			name = substr(line, 1, 36); sub(/ +$/, "", name); rest = substr(line, 37)
			if (!(name in seen)) { seen[name] = 1; order[++n] = name }
			fig[side, name] = rest
		}
		END {
			printf "%-38s | %-40s | %s\n", "", "kernel", "uiommu"
			for (i = 1; i <= n; i++)
				printf "%-38s | %-40s | %s\n", order[i], fig["kernel", order[i]], fig["uiommu", order[i]]
		}' | tee "$CACHE/real-kernel/bench.txt" | sed 's/^/real-kernel:   /' >&2
	{ echo; echo "as printed:"; tr -d '\r' <"$log" | grep -a -E '^(BENCH|GUEST: bench)'; } >>"$CACHE/real-kernel/bench.txt"
	log "bench figures kept in $CACHE/real-kernel/bench.txt"
}

# `uiommu info` on the guest's kernel (boot_qemu_edu runs it): the VT-d unit QEMU gives the
# guest, the edu bound to vfio-pci in its group with its cdev, and its IOMMU_GET_HW_INFO read
# through the real /dev/iommu and decoded.
info_check() { # LOG
	local log=$WORK/$1 ok=0 want
	tr -d '\r' <"$log" | sed -n 's/^INFO: //p' >"$WORK/$1.info"
	for want in '^  dmar[0-9]* .*VT-d' '^  0000:00:03.0  1234:11e8 .*group [0-9]* *vfio-pci  /dev/vfio/devices/vfio[0-9]' \
		'out_data_type *INTEL_VTD' '^  cap_reg *0x[0-9a-f]*[1-9a-f]' 'ECAP_REG\.'; do
		grep -q -- "$want" "$WORK/$1.info" || { log "uiommu info on the kernel lacks /$want/"; ok=1; }
	done
	[ "$ok" = 0 ] && log "uiommu info on the kernel: the VT-d unit, the edu and its decoded IOMMU_GET_HW_INFO"
	sed -n '/^IOMMU_GET_HW_INFO/,/^  cap_reg/p' "$WORK/$1.info" | sed 's/^/real-kernel:   /' >&2
	return $ok
}

# `uiommu trace` on the guest's kernel (boot_qemu_edu runs it): one IOAS scenario
# (crates/client/tests/uapi/ioas.rs, ioas_map_fixed_unmap) on the real /dev/iommu, followed by
# ptrace. Each line must be trace.expected's once its time and the buffer's address (user_va)
# are masked: the same lines `uiommu exec --trace` prints for the scenario on uiommu.
trace_check() { # LOG
	local log=$WORK/$1 got=$WORK/$1.trace status
	tr -d '\r' <"$log" | sed -n 's/^TRACE: //p' >"$got"
	status=$(tr -d '\r' <"$log" | sed -n 's/^TRACE-STATUS: //p')
	sed 's/^/real-kernel:   /' "$got" >&2
	if [ "$status" != 0 ]; then
		log "FAIL: the scenario under uiommu trace exited ${status:-?}"
		return 1
	fi
	# The traced program runs under the tracer's seccomp filter (Seccomp: 2 in its status).
	if ! tr -d '\r' <"$log" | grep -Eq '^TRACE-SECCOMP: Seccomp:[[:space:]]+2$'; then
		log "FAIL: the traced program had no seccomp filter: $(grep -a '^TRACE-SECCOMP' "$log")"
		return 1
	fi
	if ! sed -E 's/ <[0-9.]+>$//; s/user_va=0x[0-9a-f]+/user_va=ADDR/g' "$got" |
		diff -u "$HERE/trace.expected" - >&2; then
		log "FAIL: uiommu trace on the kernel differs from trace.expected (log: $got)"
		return 1
	fi
	log "uiommu trace on the kernel: $(wc -l <"$got") lines, each as trace.expected has it"
	trace_edu_check "$1"
}

# The edu scenarios under `uiommu trace` (the same boot): the cdev's and the group's opens, and
# the device files' ioctls, config-space reads and BAR mmap decoded on the real kernel, the
# group's device file (an anonymous `[vfio-device]` inode) found by its VFIO_GROUP_GET_DEVICE_FD.
trace_edu_check() { # LOG
	local log=$WORK/$1 got=$WORK/$1.trace-edu status ok=0 fd want
	tr -d '\r' <"$log" | sed -n 's/^TRACE-EDU: //p' >"$got"
	status=$(tr -d '\r' <"$log" | sed -n 's/^TRACE-EDU-STATUS: //p')
	if [ "$status" != 0 ]; then
		log "FAIL: the edu scenarios under uiommu trace exited ${status:-?} (log: $got)"
		return 1
	fi
	fd=$(sed -n 's/^ioctl([0-9]*, VFIO_GROUP_GET_DEVICE_FD, 0x[0-9a-f]*) = \([0-9]*\) <.*/\1/p' "$got")
	for want in '^openat(AT_FDCWD, "/dev/vfio/devices/vfio[0-9]*", O_RDWR|O_CLOEXEC) = [0-9]* <' \
		'^ioctl([0-9]*, VFIO_DEVICE_BIND_IOMMUFD, {argsz=24, .*}) = 0 => {out_devid=[0-9]*} <' \
		'^openat(AT_FDCWD, "/dev/vfio/[0-9]*", O_RDWR|O_CLOEXEC) = [0-9]* <' \
		'^ioctl([0-9]*, VFIO_IOMMU_MAP_DMA, {argsz=32, flags=VFIO_DMA_MAP_FLAG_READ|VFIO_DMA_MAP_FLAG_WRITE, .*}) = 0 <' \
		"^ioctl(${fd:-?}, VFIO_DEVICE_GET_INFO, {argsz=24, .*}) = 0 => {flags=VFIO_DEVICE_FLAGS_PCI" \
		"^pread64(${fd:-?}, CONFIG+0x0, 4) = 4 => \[0x11e81234\] <" \
		"^mmap(.*, 1048576, PROT_READ.*, MAP_SHARED.*, ${fd:-?}, BAR0+0x0) = 0x[0-9a-f]* <"; do
		grep -q -- "$want" "$got" || { log "uiommu trace of the edu scenarios lacks /$want/"; ok=1; }
	done
	grep -E 'VFIO_GROUP_GET_DEVICE_FD|VFIO_DEVICE_GET_INFO|CONFIG\+0x0|^mmap' "$got" |
		sed 's/^/real-kernel:   /' >&2
	if [ "$ok" = 0 ]; then
		log "uiommu trace of the edu scenarios: the cdev, the group and its device file decoded"
	else
		log "FAIL: uiommu trace of the edu scenarios (log: $got)"
	fi
	return $ok
}

# The guest printed each VFIO selftest's TAP output with the prefix "KSFT BINARY: ". Every case
# uiommu must pass behind its VT-d model (tests/selftests/vfio/must-pass*.txt, vtd/... and
# vtd/type1/...) must pass
# on the kernel too, except those the kernel's configuration decides differently, listed with a
# reason in tests/selftests/vfio/real-kernel-differs.txt (each of which must indeed not pass
# there).
vfio_selftests_compare() { # LOG
	local lists=$REPO/tests/selftests/vfio results=$WORK/$1.vfio-selftests
	sed -n 's/^KSFT [a-z_]*: //p' "$WORK/$1" | tr -d '\r' | awk '
		/^ok [0-9]+ / { r = ($0 ~ /# SKIP/) ? "skip" : "pass"; print r, $3; next }
		/^not ok [0-9]+ / { print "fail", $4 }' | sort -k2 >"$results"
	local total pass
	total=$(wc -l <"$results"); pass=$(grep -c '^pass ' "$results" || true)
	log "VFIO selftests in the guest ($1): $pass of $total cases pass"
	[ "$total" -gt 0 ] || { log "FAIL: no VFIO selftest reported (log: $WORK/$1)"; return 1; }
	local expected differs bad=0 c r
	# Without 1 GiB huge pages in the guest, the 1 GiB cases skip there. The guest has QEMU's
	# edu only: the cases run against uiommu's other devices (vtd/ioat/...) are not compared.
	# Its kernel has CONFIG_VFIO_CONTAINER: vtd/type1/ (uiommu's legacy type1 container) is its
	# configuration, and vtd/ (iommufd's compat container) differs from it only in cases vtd/
	# does not list.
	expected=$(cat "$lists/must-pass.txt" "$lists/must-pass-hugepages.txt" |
		sed -n -e 's|^vtd/type1/\([^/]*\)$|\1|p' -e 's|^vtd/\([^/]*\)$|\1|p' | sort -u)
	differs=$(grep -v '^\s*\(#\|$\)' "$lists/real-kernel-differs.txt" | cut -f1 | sort -u)
	while read -r c; do
		[ -n "$c" ] || continue
		r=$(awk -v c="$c" '$2 == c { print $1 }' "$results")
		if grep -qxF "$c" <<<"$differs"; then
			[ "$r" = pass ] && { log "listed as differing, but passes on the kernel: $c"; bad=1; }
		elif [ "$r" != pass ]; then
			log "passes on uiommu, not on the kernel (${r:-did not run}): $c"; bad=1
		fi
	done <<<"$expected"
	[ "$bad" = 0 ] && log "VFIO selftests: the kernel passes every case uiommu must pass behind vtd"
	# The other way round, for the record: uiommu lists why in known-failures.txt.
	comm -23 <(awk '$1 == "pass" { print $2 }' "$results" | sort) <(echo "$expected") |
		sed 's/^/real-kernel: passes on the kernel, not listed for uiommu: /' >&2
	return $bad
}

START=$(ts)
timed prereqs prereqs || exit 1
CACHE=$(UIOMMU_CACHE=${UIOMMU_CACHE:-} timed kernel-source "$REPO/scripts/kernel-source.sh")
KS=$CACHE/src/linux-source-7.3
KOUT=$CACHE/real-kernel/kout
# The kernel build is shared between runs; everything else a run makes (the initramfs, the
# guests' consoles) is its own, so that two runs on one machine do not overwrite each other's.
# A passing run removes it; a failing one keeps it for its logs.
mkdir -p "$KOUT" "$CACHE/real-kernel"
WORK=$(mktemp -d "$CACHE/real-kernel/work.XXXXXX")
timed kernel kernel || exit 1
timed tests tests || exit 1
timed bench bench || exit 1
timed initramfs initramfs || exit 1
ok=0
timed boot boot_qemu_edu || ok=1
vfio_selftests_compare guest.log || ok=1
info_check guest.log || ok=1
trace_check guest.log || ok=1
bench_report guest.log
if [ "${BOOTS:-all}" = all ]; then
	timed boot-uiommu boot_uiommu_edu || ok=1
	vfio_selftests_compare guest-uiommu.log || ok=1
	timed boot-legacy boot_uiommu_legacy || ok=1
	vfio_selftests_compare guest-legacy.log || ok=1
	timed boot-virtio boot_uiommu_virtio || ok=1
	vfio_selftests_compare guest-virtio.log || ok=1
	timed boot-nested boot_uiommu_nested || ok=1
	vfio_selftests_compare guest-nested.log || ok=1
fi
printf 'TIMING %-14s %6.1fs\n' total "$(echo "$(ts) - $START" | bc)" >&2
if [ "$ok" = 0 ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
exit $ok
