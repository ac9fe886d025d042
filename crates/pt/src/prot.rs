//! Mapping permissions and access kinds.

/// Permission and attribute flags of a mapping, the kernel's `IOMMU_*` prot bits
/// (include/linux/iommu.h): the values are part of the driver interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Prot(pub u32);

impl Prot {
    /// Device may read.
    pub const READ: Prot = Prot(1 << 0);
    /// Device may write.
    pub const WRITE: Prot = Prot(1 << 1);
    /// Cache-coherent access.
    pub const CACHE: Prot = Prot(1 << 2);
    /// Instruction fetch not allowed.
    pub const NOEXEC: Prot = Prot(1 << 3);
    /// Device memory (MMIO) attributes.
    pub const MMIO: Prot = Prot(1 << 4);
    /// Privileged accesses only.
    pub const PRIV: Prot = Prot(1 << 5);
    /// Read and write.
    pub const RW: Prot = Prot(Self::READ.0 | Self::WRITE.0);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: Prot) -> bool {
        self.0 & other.0 != 0
    }
}

impl core::ops::BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        Prot(self.0 | rhs.0)
    }
}

/// The kind of DMA access a hardware walk performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Device reads memory.
    Read,
    /// Device writes memory.
    Write,
}
