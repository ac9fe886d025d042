//! With [`crate::config::LOG_HWPT_ENV`] set, each `IOMMU_HWPT_ALLOC` and
//! `IOMMU_HWPT_INVALIDATE` on an iommufd of this process is printed on stderr with what the
//! caller passed (the driver data of a VT-d first-stage table and of its invalidations
//! decoded) and what uiommu answered: the record of how a VMM's nested vIOMMU drives the
//! IOMMU model.

use uiommu_uapi::UserMemory;
use uiommu_uapi::iommufd::{
    IOMMU_HWPT_ALLOC, IOMMU_HWPT_DATA_VTD_S1, IOMMU_HWPT_INVALIDATE,
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IommuHwptAlloc, IommuHwptInvalidate, IommuHwptVtdS1,
    IommuHwptVtdS1Invalidate,
};
use zerocopy::FromBytes;

/// The invalidation entries shown per call.
const SHOWN_ENTRIES: u32 = 4;

/// The line for command `cmd` with argument `arg`, after uiommu answered `result` (the
/// ioctl's value or errno), if it is one this log shows. The argument and the data it points
/// at are read from `mem` after the call, so outputs (`out_hwpt_id`, the number of entries
/// handled) are the answer's.
pub fn line(cmd: u32, arg: u64, result: Result<i32, i32>, mem: &dyn UserMemory) -> Option<String> {
    let outcome = |ok: String| match result {
        Ok(_) => ok,
        Err(e) => format!("errno {e} ({})", std::io::Error::from_raw_os_error(e)),
    };
    match cmd {
        IOMMU_HWPT_ALLOC => {
            let a: IommuHwptAlloc = read(mem, arg)?;
            let data = match a.data_type {
                IOMMU_HWPT_DATA_VTD_S1 => read::<IommuHwptVtdS1>(mem, a.data_uptr)
                    .map(|s| {
                        format!(
                            " (VTD_S1 pgtbl_addr {:#x} addr_width {} flags {:#x})",
                            s.pgtbl_addr, s.addr_width, s.flags
                        )
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Some(format!(
                "IOMMU_HWPT_ALLOC dev {} pt {} flags {:#x} data_type {}{data} -> {}",
                a.dev_id,
                a.pt_id,
                a.flags,
                a.data_type,
                outcome(format!("hwpt {}", a.out_hwpt_id))
            ))
        }
        IOMMU_HWPT_INVALIDATE => {
            let inv: IommuHwptInvalidate = read(mem, arg)?;
            let mut entries = String::new();
            if inv.data_type == IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 {
                let len = u64::from(inv.entry_len);
                for i in 0..inv.entry_num.min(SHOWN_ENTRIES) {
                    let at = inv.data_uptr.wrapping_add(u64::from(i) * len);
                    if let Some(e) = read::<IommuHwptVtdS1Invalidate>(mem, at) {
                        entries += &format!(
                            " [addr {:#x} npages {:#x} flags {:#x}]",
                            e.addr, e.npages, e.flags
                        );
                    }
                }
            }
            Some(format!(
                "IOMMU_HWPT_INVALIDATE hwpt {} data_type {}{entries} -> {}",
                inv.hwpt_id,
                inv.data_type,
                outcome(format!("{} entries handled", inv.entry_num))
            ))
        }
        _ => None,
    }
}

/// A `T` at `addr`, if readable.
fn read<T: FromBytes>(mem: &dyn UserMemory, addr: u64) -> Option<T> {
    let mut buf = vec![0u8; size_of::<T>()];
    mem.read(addr, &mut buf).ok()?;
    T::read_from_bytes(&buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use uiommu_uapi::Errno;
    use zerocopy::IntoBytes;

    /// User memory at address 0x1000.
    struct Mem(RefCell<Vec<u8>>);
    const BASE: u64 = 0x1000;

    impl UserMemory for Mem {
        fn read(&self, addr: u64, buf: &mut [u8]) -> uiommu_uapi::errno::Result<()> {
            let m = self.0.borrow();
            let at = addr.checked_sub(BASE).ok_or(Errno::EFAULT)? as usize;
            let src = m.get(at..at + buf.len()).ok_or(Errno::EFAULT)?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write(&self, _: u64, _: &[u8]) -> uiommu_uapi::errno::Result<()> {
            Err(Errno::EFAULT)
        }
    }

    #[test]
    fn a_vtd_first_stage_allocation_shows_its_table() {
        let s1 = IommuHwptVtdS1 {
            flags: 0,
            pgtbl_addr: 0x3f00_0000,
            addr_width: 48,
            __reserved: 0,
        };
        let a = IommuHwptAlloc {
            size: size_of::<IommuHwptAlloc>() as u32,
            dev_id: 1,
            pt_id: 3,
            out_hwpt_id: 4,
            data_type: IOMMU_HWPT_DATA_VTD_S1,
            data_len: size_of::<IommuHwptVtdS1>() as u32,
            data_uptr: BASE + 0x100,
            ..Default::default()
        };
        let mut bytes = a.as_bytes().to_vec();
        bytes.resize(0x100, 0);
        bytes.extend_from_slice(s1.as_bytes());
        let mem = Mem(RefCell::new(bytes));
        assert_eq!(
            line(IOMMU_HWPT_ALLOC, BASE, Ok(0), &mem).unwrap(),
            "IOMMU_HWPT_ALLOC dev 1 pt 3 flags 0x0 data_type 1 (VTD_S1 pgtbl_addr 0x3f000000 \
             addr_width 48 flags 0x0) -> hwpt 4"
        );
        assert_eq!(
            line(IOMMU_HWPT_ALLOC, BASE, Err(libc::EINVAL), &mem).unwrap(),
            "IOMMU_HWPT_ALLOC dev 1 pt 3 flags 0x0 data_type 1 (VTD_S1 pgtbl_addr 0x3f000000 \
             addr_width 48 flags 0x0) -> errno 22 (Invalid argument (os error 22))"
        );
    }

    #[test]
    fn an_invalidation_shows_its_entries_and_how_many_were_handled() {
        let e = IommuHwptVtdS1Invalidate {
            addr: 0x20_0000,
            npages: 1,
            flags: 0,
            __reserved: 0,
        };
        let inv = IommuHwptInvalidate {
            size: size_of::<IommuHwptInvalidate>() as u32,
            hwpt_id: 4,
            data_uptr: BASE + 0x100,
            data_type: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
            entry_len: size_of::<IommuHwptVtdS1Invalidate>() as u32,
            entry_num: 1,
            __reserved: 0,
        };
        let mut bytes = inv.as_bytes().to_vec();
        bytes.resize(0x100, 0);
        bytes.extend_from_slice(e.as_bytes());
        let mem = Mem(RefCell::new(bytes));
        assert_eq!(
            line(IOMMU_HWPT_INVALIDATE, BASE, Ok(0), &mem).unwrap(),
            "IOMMU_HWPT_INVALIDATE hwpt 4 data_type 0 [addr 0x200000 npages 0x1 flags 0x0] \
             -> 1 entries handled"
        );
        // Other commands are not shown, nor an argument that cannot be read.
        assert!(line(0, BASE, Ok(0), &mem).is_none());
        assert!(line(IOMMU_HWPT_INVALIDATE, 0, Ok(0), &mem).is_none());
    }
}
