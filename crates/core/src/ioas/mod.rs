//! The I/O address space (`drivers/iommu/iommufd/io_pagetable.c`, `pages.c`, `ioas.c`).
