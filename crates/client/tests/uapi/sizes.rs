//! main.c's extensible-struct rules on several commands, through raw bytes: a `size` below
//! the command's last mandatory field is EINVAL, a larger one is accepted when the extra
//! bytes are zero (E2BIG otherwise), an older (shorter) struct works with the fields it
//! lacks taken as zero, and results are written back only up to the caller's `size`.

use uiommu_client::{MappedBuffer, PtId};
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::common::{IOVA, LEN, assert_errno, mock_iommu_scenario, mock_scenario, scenario};

fn set_size(buf: &mut [u8], size: usize) {
    buf[..4].copy_from_slice(&(size as u32).to_ne_bytes());
}

scenario! {
    /// IOMMU_DESTROY and IOMMU_IOAS_MAP with short, long, garbage-tailed and page-sized
    /// structs.
    fn size_rules_destroy_and_map(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        // IOMMU_DESTROY: {size, id}.
        let mut buf = vec![0u8; 4096];
        buf[4..8].copy_from_slice(&ioas.id().raw().to_ne_bytes());
        set_size(&mut buf, 4);
        assert_errno(fd.raw_command("IOMMU_DESTROY", IOMMU_DESTROY, &mut buf), Errno::EINVAL);
        set_size(&mut buf, 0);
        assert_errno(fd.raw_command("IOMMU_DESTROY", IOMMU_DESTROY, &mut buf), Errno::EINVAL);
        set_size(&mut buf, 16);
        buf[15] = 0x80;
        assert_errno(fd.raw_command("IOMMU_DESTROY", IOMMU_DESTROY, &mut buf), Errno::E2BIG);
        // A garbage byte far out in a page-sized struct.
        buf[15] = 0;
        buf[4000] = 1;
        set_size(&mut buf, 4096);
        assert_errno(fd.raw_command("IOMMU_DESTROY", IOMMU_DESTROY, &mut buf), Errno::E2BIG);
        assert_eq!(ioas.iova_ranges().unwrap().ranges.len(), 1, "still there");

        // IOMMU_IOAS_MAP: the last mandatory field is iova (the whole struct).
        let mem = MappedBuffer::new(LEN).unwrap();
        let map = IommuIoasMap {
            size: 0,
            flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA,
            ioas_id: ioas.id().raw(),
            user_va: mem.addr(),
            length: LEN as u64,
            iova: IOVA,
            ..Default::default()
        };
        let n = size_of::<IommuIoasMap>();
        let mut buf = vec![0u8; 64];
        buf[..n].copy_from_slice(map.as_bytes());
        set_size(&mut buf, n - 8);
        assert_errno(fd.raw_command("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP, &mut buf), Errno::EINVAL);
        set_size(&mut buf, 64);
        buf[63] = 9;
        assert_errno(fd.raw_command("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP, &mut buf), Errno::E2BIG);
        assert_eq!(ioas.unmap_all().unwrap(), 0, "nothing mapped by the refused calls");
        buf[63] = 0;
        fd.raw_command("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP, &mut buf).unwrap();
        assert_eq!(ioas.unmap(IOVA, LEN as u64).unwrap(), LEN as u64);

        // A page-sized IOMMU_DESTROY with a zero tail works.
        let mut buf = vec![0u8; 4096];
        set_size(&mut buf, 4096);
        buf[4..8].copy_from_slice(&ioas.id().raw().to_ne_bytes());
        fd.raw_command("IOMMU_DESTROY", IOMMU_DESTROY, &mut buf).unwrap();
        assert_errno(fd.destroy(ioas.id()), Errno::ENOENT);
    }
}

scenario! {
    /// IOMMU_IOAS_IOVA_RANGES and IOMMU_IOAS_UNMAP write their results back only up to the
    /// caller's size; a longer struct gets the same results with its tail untouched.
    fn size_rules_write_back(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let mut r = vec![0u8; 48];
        let head = IommuIoasIovaRanges {
            size: 48,
            ioas_id: ioas.id().raw(),
            num_iovas: 0,
            ..Default::default()
        };
        let n = size_of::<IommuIoasIovaRanges>();
        r[..n].copy_from_slice(head.as_bytes());
        // No room for the one range: EMSGSIZE, the count written back anyway.
        assert_errno(
            fd.raw_command("IOMMU_IOAS_IOVA_RANGES", IOMMU_IOAS_IOVA_RANGES, &mut r),
            Errno::EMSGSIZE,
        );
        let out = IommuIoasIovaRanges::read_from_prefix(&r).unwrap().0;
        assert_eq!((out.num_iovas, out.out_iova_alignment), (1, 1));
        assert!(r[n..].iter().all(|&b| b == 0));

        let mem = MappedBuffer::new(LEN).unwrap();
        let iova = ioas.map(&mem, uiommu_client::Iova::Auto, uiommu_client::MapFlags::RW).unwrap();
        let n = size_of::<IommuIoasUnmap>();
        let mut u = vec![0xeeu8; n + 8];
        let unmap = IommuIoasUnmap {
            size: size_of::<IommuIoasUnmap>() as u32,
            ioas_id: ioas.id().raw(),
            iova: 0,
            length: u64::MAX,
        };
        u[..n].copy_from_slice(unmap.as_bytes());
        // 0xee in the tail of a longer struct: E2BIG.
        set_size(&mut u, n + 8);
        assert_errno(fd.raw_command("IOMMU_IOAS_UNMAP", IOMMU_IOAS_UNMAP, &mut u), Errno::E2BIG);
        // Exact size: the unmapped length is written back.
        set_size(&mut u, n);
        fd.raw_command("IOMMU_IOAS_UNMAP", IOMMU_IOAS_UNMAP, &mut u).unwrap();
        let out = IommuIoasUnmap::read_from_prefix(&u).unwrap().0;
        assert_eq!(out.length, LEN as u64);
        assert!(u[n..].iter().all(|&b| b == 0xee), "nothing written past size");
        assert_errno(ioas.unmap(iova, LEN as u64), Errno::ENOENT);
    }
}

mock_iommu_scenario! {
    /// Older struct sizes: IOMMU_GET_HW_INFO without out_capabilities, IOMMU_HWPT_ALLOC
    /// without the data fields or without fault_id; fields past `size` read as zero and are
    /// not written.
    fn size_rules_older_structs(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let dev = fd.test().mock_domain(&ioas).unwrap();

        // GET_HW_INFO: min is offsetofend(__reserved) = 32; out_capabilities at 32..40.
        let mut data = [0u8; 8];
        let info = IommuHwInfo {
            size: 32,
            dev_id: dev.dev_id().raw(),
            data_len: data.len() as u32,
            data_uptr: data.as_mut_ptr() as u64,
            ..Default::default()
        };
        let mut buf = [0xffu8; 40];
        buf[..32].copy_from_slice(&info.as_bytes()[..32]);
        fd.raw_command("IOMMU_GET_HW_INFO", IOMMU_GET_HW_INFO, &mut buf).unwrap();
        let out_type = u32::from_ne_bytes(buf[24..28].try_into().unwrap());
        assert_eq!(out_type, IOMMU_HW_INFO_TYPE_SELFTEST);
        assert_eq!(u32::from_ne_bytes(buf[12..16].try_into().unwrap()), 8, "data_len");
        assert_eq!(u32::from_ne_bytes(data[4..8].try_into().unwrap()), IOMMU_HW_INFO_SELFTEST_REGVAL);
        assert_eq!(&buf[32..], &[0xff; 8], "out_capabilities not written past size");
        set_size(&mut buf, 28);
        assert_errno(fd.raw_command("IOMMU_GET_HW_INFO", IOMMU_GET_HW_INFO, &mut buf), Errno::EINVAL);

        // HWPT_ALLOC: min is offsetofend(__reserved) = 24, a paging HWPT with no data.
        let alloc = IommuHwptAlloc {
            size: 24,
            dev_id: dev.dev_id().raw(),
            pt_id: ioas.id().raw(),
            ..Default::default()
        };
        let mut buf = alloc.as_bytes().to_vec();
        buf.truncate(24);
        fd.raw_command("IOMMU_HWPT_ALLOC", IOMMU_HWPT_ALLOC, &mut buf).unwrap();
        let hwpt_id = u32::from_ne_bytes(buf[16..20].try_into().unwrap());
        assert_ne!(hwpt_id, 0);
        assert_eq!(dev.replace_id(PtId::from_raw(hwpt_id)).unwrap().raw(), hwpt_id);
        dev.replace(&ioas).unwrap();
        fd.destroy(hwpt_id).unwrap();
        set_size(&mut buf, 20);
        assert_errno(fd.raw_command("IOMMU_HWPT_ALLOC", IOMMU_HWPT_ALLOC, &mut buf), Errno::EINVAL);
        // __reserved must be 0.
        let mut bad = alloc;
        bad.size = size_of::<IommuHwptAlloc>() as u32;
        bad.__reserved = 1;
        assert_errno(
            fd.raw_command("IOMMU_HWPT_ALLOC", IOMMU_HWPT_ALLOC, bad.as_mut_bytes()),
            Errno::EOPNOTSUPP,
        );
        // Without fault_id (size 40), FAULT_ID_VALID names fault 0, which does not exist.
        let mut old = alloc;
        old.size = 40;
        old.flags = IOMMU_HWPT_FAULT_ID_VALID;
        let mut buf = old.as_bytes()[..40].to_vec();
        assert_errno(fd.raw_command("IOMMU_HWPT_ALLOC", IOMMU_HWPT_ALLOC, &mut buf), Errno::ENOENT);
    }
}

mock_scenario! {
    /// IOMMU_TEST_CMD follows the same rules: below `last` is EINVAL, a garbage tail E2BIG.
    fn size_rules_test_cmd(fd) {
        let ioas = fd.alloc_ioas().unwrap();
        let cmd = IommuTestCmd::new(ioas.id().raw(), TestAddReserved { start: 0x10_0000, length: 0x1000 });
        let n = size_of::<IommuTestCmd>();
        let mut buf = vec![0u8; n + 16];
        buf[..n].copy_from_slice(cmd.as_bytes());
        set_size(&mut buf, IommuTestCmd::MIN_SIZE - 4);
        assert_errno(fd.raw_command("IOMMU_TEST_CMD", IOMMU_TEST_CMD, &mut buf), Errno::EINVAL);
        set_size(&mut buf, n + 16);
        buf[n + 3] = 1;
        assert_errno(fd.raw_command("IOMMU_TEST_CMD", IOMMU_TEST_CMD, &mut buf), Errno::E2BIG);
        assert_eq!(ioas.iova_ranges().unwrap().ranges.len(), 1, "nothing reserved");
        buf[n + 3] = 0;
        fd.raw_command("IOMMU_TEST_CMD", IOMMU_TEST_CMD, &mut buf).unwrap();
        assert_eq!(ioas.iova_ranges().unwrap().ranges.len(), 2, "reserved once");
    }
}
