//! AMD-Vi hardware layouts, apart from the model's logic (AMD I/O Virtualization Technology
//! (IOMMU) Specification): the feature registers and the unit's configuration ([`regs`]),
//! and the Device Table Entry ([`dte`]).

pub mod dte;
pub mod regs;
