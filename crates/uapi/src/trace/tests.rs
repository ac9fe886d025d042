use super::*;
use crate::iommufd::{IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP};
use crate::vfio::VFIO_CHECK_EXTENSION;

const DONE: Done = Done {
    pid: Some(7),
    result: Ok(0),
    took: Duration::from_micros(11),
};

#[test]
fn fields_show_as_numbers_and_only_the_changed_ones_after() {
    let l = catalog::layout("iommu_ioas_map").unwrap();
    let mut s = [0u8; 40];
    s[0..4].copy_from_slice(&40u32.to_ne_bytes());
    s[4..8].copy_from_slice(&7u32.to_ne_bytes());
    s[32..40].copy_from_slice(&0x100_0000u64.to_ne_bytes());
    let f = fields(IOMMU_IOAS_MAP, l.fields, &s);
    let text = show(None, &f, &s, |_| true);
    assert!(text.starts_with("size=40, flags=7, ioas_id=0"), "{text}");
    let named = show(Some("IOMMU_IOAS_MAP"), &f, &s, |_| true);
    assert!(
        named.starts_with(
            "size=40, flags=IOMMU_IOAS_MAP_FIXED_IOVA|IOMMU_IOAS_MAP_WRITEABLE|\
             IOMMU_IOAS_MAP_READABLE, ioas_id=0"
        ),
        "{named}"
    );
    assert!(text.ends_with("iova=0x1000000"), "{text}");
    let mut t = s;
    t[32..40].copy_from_slice(&0x200_0000u64.to_ne_bytes());
    assert_eq!(
        show(None, &f, &t, |x| bytes(&s, x) != bytes(&t, x)),
        "iova=0x2000000"
    );
}

#[test]
fn a_test_command_shows_its_operation_s_member() {
    use crate::selftest::IOMMU_TEST_OP_ACCESS_RW;
    let l = catalog::layout("iommu_test_cmd").unwrap();
    let mut s = vec![0u8; l.size];
    s[4..8].copy_from_slice(&IOMMU_TEST_OP_ACCESS_RW.to_ne_bytes());
    let names: Vec<_> = fields(IOMMU_TEST_CMD, l.fields, &s)
        .iter()
        .map(|f| f.c_path)
        .collect();
    assert!(names.contains(&"op"), "{names:?}");
    assert!(names.contains(&"access_rw.uptr"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("mock_domain")),
        "{names:?}"
    );
}

#[test]
fn an_ioctl_line_has_the_struct_before_and_its_changes_after() {
    let mut before = [0u8; 12];
    before[0..4].copy_from_slice(&12u32.to_ne_bytes());
    let mut after = before;
    after[8..12].copy_from_slice(&1u32.to_ne_bytes());
    assert_eq!(Ioctl::struct_size(FileKind::Iommufd, IOMMU_IOAS_ALLOC), 12);
    let call = Ioctl {
        fd: 3,
        file: FileKind::Iommufd,
        cmd: IOMMU_IOAS_ALLOC,
        arg: 0x1000,
        before: Some(&before),
        after: Some(&after),
    };
    assert_eq!(
        call.line(&DONE),
        "[pid 7] ioctl(3, IOMMU_IOAS_ALLOC, {size=12, flags=0, out_ioas_id=0}) = 0 \
         => {out_ioas_id=1} <0.000011>\n"
    );
    let failed = Done {
        pid: None,
        result: Err(2),
        ..DONE
    };
    let unread = Ioctl {
        cmd: IOMMU_DESTROY,
        before: None,
        after: None,
        ..call
    };
    assert_eq!(
        unread.line(&failed),
        "ioctl(3, IOMMU_DESTROY, 0x1000) = -1 ENOENT (No such file or directory) <0.000011>\n"
    );
}

#[test]
fn value_arguments_and_unknown_commands_show_as_numbers() {
    assert_eq!(
        Ioctl::struct_size(FileKind::Container, VFIO_CHECK_EXTENSION),
        0
    );
    let call = Ioctl {
        fd: 4,
        file: FileKind::Container,
        cmd: VFIO_CHECK_EXTENSION,
        arg: 1,
        before: None,
        after: None,
    };
    let one = Done {
        result: Ok(1),
        ..DONE
    };
    assert!(
        call.line(&one)
            .starts_with("[pid 7] ioctl(4, VFIO_CHECK_EXTENSION, 0x1) = 1 <")
    );
    let unknown = Ioctl {
        cmd: 0x5401,
        ..call
    };
    assert!(
        unknown
            .line(&one)
            .starts_with("[pid 7] ioctl(4, 0x5401, 0x1) = 1 <")
    );
}

#[test]
fn opens_regions_and_other_calls() {
    let open = Open {
        dirfd: AT_FDCWD,
        path: b"/dev/iommu",
        flags: 0o2000002,
    };
    let enoent = Done {
        result: Err(2),
        ..DONE
    };
    assert_eq!(
        open.line(&enoent),
        "[pid 7] openat(AT_FDCWD, \"/dev/iommu\", O_RDWR|O_CLOEXEC) = -1 ENOENT \
         (No such file or directory) <0.000011>\n"
    );
    assert_eq!(open_flags(0o100000 | 0x40), "O_RDONLY|O_LARGEFILE|0x40");
    let io = RegionIo {
        fd: 5,
        write: false,
        positioned: true,
        pos: (7 << VFIO_PCI_OFFSET_SHIFT) | 4,
        count: 2,
        written: None,
        read: RegionIo::value(&[0x07, 0x01], 2),
    };
    let two = Done {
        result: Ok(2),
        ..DONE
    };
    assert_eq!(
        io.line(&two),
        "[pid 7] pread64(5, CONFIG+0x4, 2) = 2 => [0x107] <0.000011>\n"
    );
    assert_eq!(RegionIo::value(&[0; 16], 16), None);
    assert_eq!(
        other("read", "6, 0x1000, 64", false, &two),
        "[pid 7] read(6, 0x1000, 64) = 2 <0.000011>\n"
    );
    assert!(other("mmap", "0, 0x1000", true, &two).contains(") = 0x2 <"));
}

#[test]
fn a_fault_queue_read_shows_each_record_with_flags_by_name() {
    use crate::iommufd::{
        IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_PERM_WRITE, IommuHwptPageResponse,
        IommuHwptPgfault,
    };
    use zerocopy::IntoBytes;
    let rec = |grpid, cookie| IommuHwptPgfault {
        flags: IOMMU_PGFAULT_FLAGS_LAST_PAGE,
        dev_id: 1,
        grpid,
        perm: IOMMU_PGFAULT_PERM_WRITE,
        addr: 0x1000,
        cookie,
        ..Default::default()
    };
    let mut data = rec(1, 1).as_bytes().to_vec();
    data.extend_from_slice(rec(2, 2).as_bytes());
    let read = FileIo {
        fd: 7,
        write: false,
        payload: Payload::Fault,
        buf: 0x1000,
        count: 64,
        data: Some(&data),
    };
    let ok = Done {
        result: Ok(64),
        ..DONE
    };
    let one = "flags=IOMMU_PGFAULT_FLAGS_LAST_PAGE, dev_id=1, pasid=0, grpid=1, \
               perm=IOMMU_PGFAULT_PERM_WRITE, __reserved=0, addr=0x1000, length=0, cookie=1";
    assert_eq!(
        read.line(&ok),
        format!(
            "[pid 7] read(7, [{{{one}}}, {{{}}}], 64) = 64 <0.000011>\n",
            one.replace("grpid=1", "grpid=2")
                .replace("cookie=1", "cookie=2")
        )
    );
    let empty = Done {
        result: Err(11),
        ..DONE
    };
    assert_eq!(
        FileIo { data: None, ..read }.line(&empty),
        "[pid 7] read(7, 0x1000, 64) = -1 EAGAIN (Resource temporarily unavailable) \
         <0.000011>\n"
    );
    let resp = IommuHwptPageResponse { cookie: 1, code: 0 };
    let write = FileIo {
        write: true,
        count: 8,
        data: Some(resp.as_bytes()),
        ..read
    };
    assert_eq!(
        write.line(&Done {
            result: Ok(8),
            ..DONE
        }),
        "[pid 7] write(7, [{cookie=1, code=0}], 8) = 8 <0.000011>\n"
    );
}

#[test]
fn a_veventq_read_shows_headers_and_the_type_s_data() {
    use crate::iommufd::{IOMMU_VEVENTQ_FLAG_LOST_EVENTS, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3};
    use crate::selftest::IOMMU_VEVENTQ_TYPE_SELFTEST;
    let mut data = Vec::new();
    data.extend_from_slice(&0u32.to_ne_bytes());
    data.extend_from_slice(&0u32.to_ne_bytes());
    data.extend_from_slice(&0x1234u32.to_ne_bytes());
    data.extend_from_slice(&IOMMU_VEVENTQ_FLAG_LOST_EVENTS.to_ne_bytes());
    data.extend_from_slice(&1u32.to_ne_bytes());
    let io = FileIo {
        fd: 8,
        write: false,
        payload: Payload::Veventq(IOMMU_VEVENTQ_TYPE_SELFTEST),
        buf: 0x2000,
        count: 64,
        data: Some(&data),
    };
    let ok = Done {
        result: Ok(20),
        ..DONE
    };
    assert_eq!(
        io.line(&ok),
        "[pid 7] read(8, [{flags=0, sequence=0, data={virt_id=0x1234}}, \
         {flags=IOMMU_VEVENTQ_FLAG_LOST_EVENTS, sequence=1}], 64) = 20 <0.000011>\n"
    );
    let smmu = FileIo {
        payload: Payload::Veventq(IOMMU_VEVENTQ_TYPE_ARM_SMMUV3),
        data: Some(&data[..12]),
        ..io
    };
    // Fewer bytes than the type's struct: in hex.
    assert!(
        smmu.line(&ok).contains("data=0x34120000}"),
        "{}",
        smmu.line(&ok)
    );
    let text = FileIo {
        payload: Payload::Text,
        data: Some(b"3\n"),
        ..io
    };
    assert!(
        text.line(&ok)
            .starts_with("[pid 7] read(8, \"3\\n\", 64) = 20")
    );
}

#[test]
fn vectored_io_and_mmap_show_the_region() {
    let mut iov = Iovec::parse(
        &[
            0x1000u64.to_ne_bytes(),
            4u64.to_ne_bytes(),
            0x2000u64.to_ne_bytes(),
            16u64.to_ne_bytes(),
        ]
        .concat(),
    );
    // The first moved whole; the second is wider than a register.
    Iovec::fill(&mut iov, 20, |addr, b| {
        b.fill(addr as u8 + 1);
        true
    });
    assert_eq!(iov[0].value, Some(0x0101_0101));
    let v = Vectored {
        fd: 5,
        write: true,
        iov: Some(&iov),
        iov_addr: 0x3000,
        iovcnt: 2,
        pos: Some(0x98),
        flags: Some(0x4),
    };
    let ok = Done {
        result: Ok(12),
        ..DONE
    };
    assert_eq!(
        v.line(&ok),
        "[pid 7] pwritev2(5, [{iov_base=[0x1010101], iov_len=4}, {iov_base=0x2000, \
         iov_len=16}], 2, BAR0+0x98, RWF_SYNC) = 12 <0.000011>\n"
    );
    let plain = Vectored {
        write: false,
        iov: None,
        pos: None,
        flags: None,
        ..v
    };
    assert!(
        plain
            .line(&ok)
            .starts_with("[pid 7] preadv(5, 0x3000, 2, -1) = 12")
    );
    let m = Mmap {
        addr: 0,
        len: 4096,
        prot: 3,
        flags: 0x1 | 0x8000,
        fd: 5,
        off: 2 << VFIO_PCI_OFFSET_SHIFT,
        device: true,
    };
    let at = Done {
        result: Ok(0x7f00_0000_0000),
        ..DONE
    };
    assert_eq!(
        m.line(&at),
        "[pid 7] mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_POPULATE, 5, BAR2+0x0) \
         = 0x7f0000000000 <0.000011>\n"
    );
    let cookie = Mmap {
        prot: 0,
        flags: 0x2,
        off: 0x10000,
        device: false,
        ..m
    };
    assert!(
        cookie
            .line(&at)
            .contains("mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE, 5, 0x10000)")
    );
    let moved = Mremap {
        old: 0x7000_0000_0000,
        old_len: 8192,
        new_len: 8192,
        flags: 0x3,
        new_addr: 0x7100_0000_0000,
    };
    assert_eq!(
        moved.line(&at),
        "[pid 7] mremap(0x700000000000, 8192, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, \
         0x710000000000) = 0x7f0000000000 <0.000011>\n"
    );
    assert!(
        Mremap { flags: 0, ..moved }
            .line(&at)
            .contains("mremap(0x700000000000, 8192, 8192, 0) = ")
    );
    assert_eq!(
        catalog::flag_names("IOMMU_HWPT_ALLOC", "flags", 5).as_deref(),
        Some("IOMMU_HWPT_ALLOC_NEST_PARENT|IOMMU_HWPT_FAULT_ID_VALID")
    );
    assert_eq!(
        event(Some(7), "IOMMU fault", "{dev_id=1}"),
        "[pid 7] --- IOMMU fault {dev_id=1} ---\n"
    );
}
