//! The Linux ioctl number encoding (`include/uapi/asm-generic/ioctl.h`).
//!
//! iommufd and VFIO both use `_IO(type, nr)`: no direction and no size in the number; the size
//! travels in the struct (`size` or `argsz`).

/// Bits of the command number (`_IOC_NRBITS`).
pub const IOC_NRBITS: u32 = 8;
/// Bits of the type (`_IOC_TYPEBITS`).
pub const IOC_TYPEBITS: u32 = 8;
/// Bits of the size (`_IOC_SIZEBITS`, generic: x86, arm64, riscv).
pub const IOC_SIZEBITS: u32 = 14;
/// Shift of the number field (`_IOC_NRSHIFT`).
pub const IOC_NRSHIFT: u32 = 0;
/// Shift of the type field (`_IOC_TYPESHIFT`).
pub const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
/// Shift of the size field (`_IOC_SIZESHIFT`).
pub const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
/// Shift of the direction field (`_IOC_DIRSHIFT`).
pub const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: u32) -> u32 {
    (dir << IOC_DIRSHIFT)
        | ((ty as u32) << IOC_TYPESHIFT)
        | ((nr as u32) << IOC_NRSHIFT)
        | (size << IOC_SIZESHIFT)
}

/// `_IO(type, nr)`.
pub const fn io(ty: u8, nr: u8) -> u32 {
    ioc(0, ty, nr, 0)
}

/// `_IOC_NR(cmd)`: the number field, which iommufd uses to index its ioctl table.
pub const fn ioc_nr(cmd: u32) -> u8 {
    ((cmd >> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1)) as u8
}

/// `_IOC_TYPE(cmd)`.
pub const fn ioc_type(cmd: u32) -> u8 {
    ((cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_encodes_type_and_number_only() {
        // IOMMU_DESTROY is _IO(';', 0x80) = 0x3b80 in every Linux build.
        assert_eq!(io(b';', 0x80), 0x3b80);
        assert_eq!(ioc_nr(0x3b80), 0x80);
        assert_eq!(ioc_type(0x3b80), b';');
        // A direction or size set by a caller does not change the number field.
        assert_eq!(ioc_nr(ioc(3, b';', 0x83, 32)), 0x83);
    }
}
