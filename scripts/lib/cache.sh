# The cache of downloads and builds kept outside the clone; sourced. Sets UIOMMU_CACHE, if
# the caller did not, to /var/cache/uiommu when that is writable, else ~/.cache/uiommu, and
# creates it.
if [ -z "${UIOMMU_CACHE:-}" ]; then
	if mkdir -p /var/cache/uiommu 2>/dev/null && [ -w /var/cache/uiommu ]; then
		UIOMMU_CACHE=/var/cache/uiommu
	else
		UIOMMU_CACHE=$HOME/.cache/uiommu
	fi
fi
mkdir -p "$UIOMMU_CACHE"
