#!/usr/bin/env bash
# A fast check, with no guest kernel, that an unmodified QEMU assigns uiommu's emulated edu:
# QEMU runs under `uiommu exec --driver vtd` with the edu given to `-device vfio-pci` through
# iommufd, its CPUs stopped (-S: no firmware runs), and this script drives it through QEMU's
# qtest protocol (`-qtest stdio`: one command a line, `OK [value]` answers, `IRQ raise|lower N`
# lines in between). It does what firmware and a driver would:
#
#   - finds the vfio-pci function on bus 0 by its IDs through ports 0xcf8/0xcfc and checks
#     edu's vendor/device, revision and class in its config space;
#   - assigns BAR 0 an address, enables memory and bus master, reads edu's identification and
#     checks that the liveness register inverts what it is given;
#   - a DMA round trip guest RAM -> edu's buffer -> guest RAM (QEMU maps guest RAM into the
#     IOAS at guest-physical addresses), checked with qtest `read`;
#   - a DMA from and one to an address outside guest RAM (not in the IOAS): uiommu's VT-d model
#     refuses them and prints its fault line (UIOMMU_LOG_FAULTS=1), the refused read gives
#     edu zeros and the transfers complete, as with QEMU's own edu;
#   - edu's INTx (interrupt raise register) reaching QEMU's IOAPIC (`irq_intercept_in`),
#     lowered when acknowledged, and then MSI: QEMU writes the message the function was
#     given to memory, here a guest RAM address that qtest reads back.
#
#   scripts/qemu-qtest.sh
#
# Skips (exit 0) if qemu-system-x86_64 is missing and cannot be installed (not root);
# as root it is installed as for the real-kernel leg (scripts/install-qemu.sh).
# Env: CARGO_TARGET_DIR  cargo's target dir (default: <repo>/target)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "qemu-qtest: $*" >&2; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		"$REPO/scripts/install-qemu.sh"
	else
		log "SKIP: qemu-system-x86_64 is not installed (as root, scripts/install-qemu.sh installs it)"
		exit 0
	fi
fi

target=${CARGO_TARGET_DIR:-$REPO/target}
(cd "$REPO" && cargo build -q -p uiommu-cli -p uiommu-preload)
work=$(mktemp -d)
QEMU_PID=
cleanup() {
	if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	log "FAIL: $*"
	if [ -s "$work/stderr" ]; then log "QEMU's stderr:"; sed 's/^/  /' "$work/stderr" >&2; fi
	exit 1
}
pass() { log "ok: $*"; }

BDF=0000:00:10.0
# -m 128M: guest RAM is 0..0x8000000; 0xf000000 is outside it and within edu's 28 DMA bits.
coproc QEMU {
	UIOMMU_LOG_FAULTS=1 exec timeout 60 "$target/debug/uiommu" exec --driver vtd --device "edu,bdf=$BDF" -- \
		qemu-system-x86_64 -accel tcg -M q35 -m 128M -S -nodefaults -nographic -display none \
		-qtest stdio -qtest-log none \
		-object iommufd,id=iommufd0 -device "vfio-pci,host=$BDF,iommufd=iommufd0" 2>"$work/stderr"
}
QEMU_PID=$QEMU_PID
exec {qin}>&"${QEMU[1]}" {qout}<&"${QEMU[0]}"

# qt COMMAND...: sends one qtest command and sets ANS to its answer's value (after "OK").
# Asynchronous IRQ lines read meanwhile are appended to IRQS ("raise N", "lower N").
IRQS=()
qt() {
	local line
	printf '%s\n' "$*" >&"$qin" || fail "QEMU is gone (sending '$*')"
	while :; do
		IFS= read -r -t 20 line <&"$qout" || fail "no answer to '$*'"
		case $line in
		"IRQ "*) IRQS+=("${line#IRQ }") ;;
		OK) ANS=; return ;;
		"OK "*) ANS=${line#OK }; return ;;
		*) fail "'$*' answered '$line'" ;;
		esac
	done
}
# expect WHAT GOT WANT: numeric comparison of two values (any base bash reads).
expect() {
	if (($2 == $3)); then pass "$1: $(printf '0x%x' "$2")"; else fail "$1: $(printf '0x%x' "$2"), expected $(printf '0x%x' "$3")"; fi
}

# Config space through the 0xcf8/0xcfc mechanism; SLOT is the function's device number.
cfg_addr() { printf '0x%x' $((0x80000000 | ($1 << 11) | ($2 & 0xfc))); }
cfg_read() { qt outl 0xcf8 "$(cfg_addr "$1" "$2")"; qt inl 0xcfc; VAL=$((ANS)); }
cfg_write() { qt outl 0xcf8 "$(cfg_addr "$1" "$2")"; qt outl 0xcfc "$(printf '0x%x' "$3")"; }

# The first answer also waits for QEMU to start: realizing vfio-pci opens the device through
# uiommu and maps guest RAM into the IOAS.
SLOT=
for dev in $(seq 0 31); do
	cfg_read "$dev" 0
	if ((VAL == 0x11e81234)); then SLOT=$dev; break; fi
done
[ -n "$SLOT" ] || fail "no function 1234:11e8 on bus 0: vfio-pci did not realize"
pass "vfio-pci function found at 00:$(printf '%02x' "$SLOT").0 with vendor:device 1234:11e8"
cfg_read "$SLOT" 0x08
expect "revision and class code (0x08)" "$VAL" 0x00ff0010
cfg_read "$SLOT" 0x2c
expect "subsystem vendor and subsystem (0x2c)" "$VAL" 0x11001af4

# BAR 0: 1 MiB of 32-bit MMIO, placed in the PCI hole.
BAR=0xfe000000
cfg_write "$SLOT" 0x10 0xffffffff
cfg_read "$SLOT" 0x10
expect "BAR 0 size mask" "$VAL" 0xfff00000
cfg_write "$SLOT" 0x10 "$BAR"
cfg_read "$SLOT" 0x04
cfg_write "$SLOT" 0x04 $(((VAL & 0xffff) | 0x6)) # memory space + bus master
cfg_read "$SLOT" 0x04
expect "command: memory space and bus master enabled" $((VAL & 0x6)) 0x6
reg() { printf '0x%x' $((BAR + $1)); }
rdl() { qt readl "$(reg "$1")"; VAL=$((ANS)); }
wrl() { qt writel "$(reg "$1")" "$2"; }
wrq() { qt writeq "$(reg "$1")" "$2"; }

rdl 0x00
expect "BAR 0 identification (0x00)" "$VAL" 0x010000ed
wrl 0x04 0x12345678
rdl 0x04
expect "liveness (0x04) after writing 0x12345678" "$VAL" 0xedcba987

# edu's DMA: source 0x80, destination 0x88, count 0x90, command 0x98 (bit 0 start/busy,
# bit 1 edu -> RAM); its buffer at device address 0x40000.
EDU_BUF=0x40000
dma() { # SRC DST COUNT CMD; waits for the start bit to clear
	wrq 0x80 "$1"; wrq 0x88 "$2"; wrq 0x90 "$3"; wrq 0x98 "$4"
	local i
	for i in $(seq 50); do
		qt readq "$(reg 0x98)"
		((ANS & 1)) || return 0
	done
	fail "DMA $* did not complete"
}
N=256
pattern=0x
for i in $(seq 0 $((N - 1))); do pattern+=$(printf '%02x' $(((i * 7 + 0x5a) & 0xff))); done
zeros=0x$(printf '%0*d' $((N * 2)) 0)
SRC=0x01000000 DST=0x01100000 OUTSIDE=0x0f000000
qt write $SRC $N "$pattern"
qt write $DST $N "$zeros"
dma $SRC $EDU_BUF $N 1
dma $EDU_BUF $DST $N 3
qt read $DST $N
[ "$ANS" = "$pattern" ] || fail "DMA round trip RAM $SRC -> edu -> RAM $DST: read back $ANS"
pass "DMA round trip of $N bytes RAM $SRC -> edu -> RAM $DST through the IOAS"
qt read $SRC $N
[ "$ANS" = "$pattern" ] || fail "DMA source changed"

# Outside guest RAM: nothing maps $OUTSIDE into the IOAS.
faults() { grep -c "^uiommu: $BDF: IOMMU fault recorded: " "$work/stderr" || true; }
fault_line() { # read|write: sets LINE to uiommu's fault line for that access at $OUTSIDE
	LINE=$(grep -m1 "^uiommu: $BDF: IOMMU fault recorded: DMA $1 at IOVA $(printf '0x%x' $OUTSIDE)[,: ]" "$work/stderr")
}
[ "$(faults)" = 0 ] || fail "IOMMU faults before any DMA outside guest RAM"
dma $OUTSIDE $EDU_BUF $N 1 # refused read: edu's buffer gets zeros
fault_line read || fail "no fault line for a DMA read at IOVA $OUTSIDE"
pass "DMA read of IOVA $OUTSIDE refused: $LINE"
dma $EDU_BUF $DST $N 3
qt read $DST $N
[ "$ANS" = "$zeros" ] || fail "refused DMA read did not leave zeros in edu's buffer: $ANS"
pass "refused DMA read left zeros in edu's buffer (copied back to RAM $DST)"
before=$(faults)
dma $SRC $EDU_BUF $N 1
dma $EDU_BUF $OUTSIDE $N 3 # refused write
[ "$(faults)" -gt "$before" ] && fault_line write || fail "no fault line for a DMA write at IOVA $OUTSIDE"
pass "DMA write to IOVA $OUTSIDE refused, transfer completed: $LINE"
qt read $OUTSIDE 16
expect "qtest read at $OUTSIDE (unassigned in QEMU)" "$ANS" 0
rdl 0x00
expect "identification still reads after the refused DMAs" "$VAL" 0x010000ed

# INTx: edu raises pin A when a cause is written to 0x60; uiommu signals QEMU's eventfd, and
# QEMU's vfio-pci asserts its line (one of the IOAPIC's PIRQ pins 16-23 on q35) when its main
# loop reads it. QEMU deasserts the line at each BAR access (its EOI without KVM) and unmasks,
# so a line still asserted is raised again; acknowledging the cause lowers it for good.
# settle COND [TRIES]: polls with accesses to RAM (no EOI) until COND holds.
settle() {
	local i
	for i in $(seq "${2:-100}"); do
		eval "$1" && return 0
		qt readl 0
		sleep 0.02
	done
	return 1
}
last_irq() { # the last IRQ event seen, "raise N" or "lower N"
	((${#IRQS[@]})) && echo "${IRQS[${#IRQS[@]} - 1]}"
}
qt irq_intercept_in ioapic
wrl 0x60 0x1
settle '[[ "$(last_irq)" == "raise "* ]]' || fail "no IRQ raised after writing 0x60 (seen: ${IRQS[*]})"
raised=$(last_irq) raised=${raised#raise }
((raised >= 16 && raised <= 23)) || fail "INTx raised IOAPIC pin $raised, not a PIRQ pin (16-23)"
pass "edu's INTx (interrupt raise 0x60) raised IOAPIC pin $raised"
rdl 0x24
expect "interrupt status (0x24)" "$VAL" 0x1
wrl 0x64 0x1 # acknowledge: edu lowers its line
settle '[ "$(last_irq)" = "lower $raised" ]' || fail "IOAPIC pin $raised not lowered (seen: ${IRQS[*]})"
rdl 0x24
expect "interrupt status after acknowledging" "$VAL" 0
settle false 10 || true # a late raise would show here
[ "$(last_irq)" = "lower $raised" ] || fail "IOAPIC pin $raised raised again (seen: ${IRQS[*]})"
pass "IOAPIC pin $raised lowered once acknowledged (0x64)"

# MSI: address and data point at guest RAM, where QEMU's msi_notify writes the data.
MSI_AT=0x01200000
qt writel $MSI_AT 0
cap=
cfg_read "$SLOT" 0x34
ptr=$((VAL & 0xff))
while ((ptr)); do
	cfg_read "$SLOT" "$ptr"
	if (((VAL & 0xff) == 0x05)); then cap=$ptr; break; fi
	ptr=$(((VAL >> 8) & 0xff))
done
[ -n "$cap" ] || fail "no MSI capability"
cfg_write "$SLOT" $((cap + 4)) $MSI_AT
cfg_write "$SLOT" $((cap + 8)) 0
cfg_write "$SLOT" $((cap + 12)) 0x4d5a
cfg_read "$SLOT" "$cap"
cfg_write "$SLOT" "$cap" $((VAL | 0x10000)) # MSI enable
IRQS=()
dma $SRC $EDU_BUF 16 5 # with bit 2: edu interrupts when done
settle 'qt readl $MSI_AT; ((ANS == 0x4d5a))' || fail "no MSI data at $MSI_AT after a DMA with its interrupt: $ANS"
pass "MSI: QEMU wrote the message data 0x4d5a at $MSI_AT after a DMA with its interrupt (cmd bit 2)"
[[ " ${IRQS[*]} " != *" raise "* ]] || fail "INTx raised with MSI enabled: ${IRQS[*]}"

qt readl 0
log "PASS"
