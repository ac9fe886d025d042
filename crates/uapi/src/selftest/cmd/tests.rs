use super::*;

fn path(c_path: &str) -> FieldLayout {
    *<IommuTestCmd as CLayout>::LAYOUT
        .fields
        .iter()
        .find(|f| f.c_path == c_path)
        .unwrap_or_else(|| panic!("{c_path} not registered"))
}

#[test]
fn layout_is_the_kernels() {
    // Hand-computed from the C declaration on x86-64.
    assert_eq!(size_of::<IommuTestCmd>(), 72);
    assert_eq!(align_of::<IommuTestCmd>(), 8);
    assert_eq!(TEST_CMD_PAYLOAD_OFFSET, 16);
    assert_eq!(IommuTestCmd::MIN_SIZE, 68);
    assert_eq!(path("last"), field("last", 64, 4));
    assert_eq!(
        path("mock_domain.out_idev_id"),
        field("mock_domain.out_idev_id", 24, 4)
    );
    assert_eq!(path("check_refs.refs"), field("check_refs.refs", 32, 4));
    assert_eq!(path("check_refs"), field("check_refs", 16, 24));
    assert_eq!(path("dirty.iova"), field("dirty.iova", 24, 8));
    assert_eq!(
        path("dirty.out_nr_dirty"),
        field("dirty.out_nr_dirty", 56, 8)
    );
    assert_eq!(path("dirty"), field("dirty", 16, 48));
    assert_eq!(path("trigger_iopf.addr"), field("trigger_iopf.addr", 32, 8));
    // Padding is not a C field.
    assert!(
        <IommuTestCmd as CLayout>::LAYOUT
            .fields
            .iter()
            .all(|f| !f.c_path.contains("__pad"))
    );
    // 4 header fields + last + 23 members + their 57 fields.
    assert_eq!(MEMBERS.len(), 23);
    assert_eq!(<IommuTestCmd as CLayout>::LAYOUT.fields.len(), 5 + 23 + 57);
}

#[test]
fn members_are_distinct_ops() {
    let cmds = [
        TestOp::AddReserved(TestAddReserved::default()),
        TestOp::MockDomain(TestMockDomain::default()),
        TestOp::DmabufRevoke(TestDmabufRevoke::default()),
    ];
    for op in cmds {
        assert_eq!(TestOp::decode(&op.to_cmd(1)), Some(op));
    }
    for op in [0, IOMMU_TEST_OP_DMABUF_REVOKE + 1] {
        let unknown = IommuTestCmd {
            op,
            ..Default::default()
        };
        assert_eq!(unknown.decode(), None);
    }
}

#[test]
fn accessors_read_and_write_the_union() {
    let mut cmd = IommuTestCmd::new(
        7,
        TestCheckRefs {
            length: 0x2000,
            uptr: 0x7f00_0000_0000,
            refs: 3,
            ..Default::default()
        },
    );
    assert_eq!(cmd.size, 72);
    assert_eq!(cmd.op, IOMMU_TEST_OP_MD_CHECK_REFS);
    assert_eq!(cmd.id, 7);
    let bytes = cmd.as_bytes();
    assert_eq!(&bytes[16..24], &0x2000u64.to_le_bytes());
    assert_eq!(&bytes[32..36], &3u32.to_le_bytes());
    assert_eq!(cmd.member::<TestCheckRefs>().refs, 3);

    // The kernel writes outputs in place; the mock driver does the same through member_mut.
    let mut md = IommuTestCmd::new(2, TestMockDomain::default());
    let out = md.member_mut::<TestMockDomain>();
    out.out_stdev_id = 3;
    out.out_hwpt_id = 4;
    out.out_idev_id = 5;
    assert_eq!(
        &md.as_bytes()[16..28],
        &[3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0]
    );
    assert_eq!(
        md.decode(),
        Some(TestOp::MockDomain(TestMockDomain {
            out_stdev_id: 3,
            out_hwpt_id: 4,
            out_idev_id: 5
        }))
    );

    // An untagged union, as in C: another member sees the same bytes.
    cmd.member_mut::<TestDirty>().iova = 0x1234_5000;
    assert_eq!(cmd.member::<TestCheckRefs>().uptr, 0x1234_5000);
    assert_eq!(cmd.member::<TestCheckRefs>().length, 0x2000);

    // From raw bytes, as copied in from user memory.
    let raw = IommuTestCmd::read_from_bytes(md.as_bytes()).unwrap();
    assert_eq!(raw, md);
}

#[test]
fn ioctl_number() {
    assert_eq!(IOMMU_TEST_CMD, 0x3ba0);
}
