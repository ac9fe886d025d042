#!/usr/bin/env bash
# The client's scenarios (crates/client/tests/uapi) under `uiommu exec`: the same executable
# the real-kernel leg runs in QEMU (scripts/real-kernel/run.sh), with the same expectations.
# UIOMMU_CLIENT_REQUIRE=1 makes a scenario fail rather than skip if /dev/iommu is missing.
# `--driver NAME` puts the selftest devices and an emulated edu (`uiommu exec --device edu`,
# which the edu DMA scenarios drive through VFIO) behind that IOMMU model (mock, vtd, smmuv3,
# amd: `uiommu drivers`); scenarios that check the selftest mock IOMMU itself then print a
# SKIP line and pass.
# `--vfio-container type1` makes /dev/vfio/vfio VFIO's legacy type1 container, as on the
# real-kernel leg's kernel (CONFIG_VFIO_CONTAINER); the default is iommufd's compat container.
# Any further arguments go to the test executable (a name filter; `--nocapture` shows the SKIPs).
set -euo pipefail
cd "$(dirname "$0")/.."
driver=mock
container=iommufd
while :; do
	case ${1:-} in
	--driver) driver=${2:?--driver needs a name}; shift 2 ;;
	--vfio-container) container=${2:?--vfio-container needs a kind}; shift 2 ;;
	*) break ;;
	esac
done
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q -p uiommu-cli -p uiommu-preload
bin=$(cargo test -p uiommu-client --test uapi --no-run 2>&1 |
	sed -n 's/.*Executable tests\/uapi\/main.rs (\(.*\))$/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "client-on-uiommu: no test executable" >&2; exit 1; }
UIOMMU_CLIENT_REQUIRE=1 "$target/debug/uiommu" exec --driver "$driver" \
	--vfio-container "$container" --device edu -- "$bin" --test-threads 1 "$@"
