#!/usr/bin/env bash
# Installs QEMU (qemu-system-x86) if qemu-system-x86_64 is missing, from bookworm-backports
# (the same Debian release, a newer QEMU: 10.0), never from a newer suite; adds that suite to
# apt's sources if apt does not know it. As root, on Debian bookworm. Used by
# scripts/real-kernel/run.sh and scripts/qemu-qtest.sh.
set -euo pipefail
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
log() { echo "install-qemu: $*" >&2; }
command -v qemu-system-x86_64 >/dev/null && exit 0
if ! apt-cache policy qemu-system-x86 | grep -q bookworm-backports; then
	log "adding bookworm-backports to apt sources"
	write_suite_sources /etc/apt/sources.list.d/uiommu-bookworm-backports.sources bookworm-backports
	apt-get update -qq
fi
log "installing qemu-system-x86 from bookworm-backports"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-x86 >/dev/null
