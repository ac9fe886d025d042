//! Fault queues through `dispatch`: allocation with its fd, a HWPT that reports to it, a page
//! request from the mock device read and answered through the fd, and lifetime rules.

mod common;

use common::files::FILES;
use common::mock::*;
use common::*;
use uiommu_abi::{FdHost, ProcessVm};
use uiommu_core::context::Context;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::*;
use uiommu_uapi::selftest::*;
use zerocopy::IntoBytes;

fn fault_alloc(ctx: &Context) -> (u32, u32) {
    let mut cmd = IommuFaultAlloc {
        size: sz::<IommuFaultAlloc>(),
        ..Default::default()
    };
    ioctl(ctx, IOMMU_FAULT_QUEUE_ALLOC, &mut cmd).unwrap();
    (cmd.out_fault_id, cmd.out_fault_fd)
}

fn hwpt_with_fault(ctx: &Context, dev: u32, pt: u32, fault: u32) -> Result<u32, Errno> {
    let mut cmd = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags: IOMMU_HWPT_FAULT_ID_VALID,
        dev_id: dev,
        pt_id: pt,
        fault_id: fault,
        ..Default::default()
    };
    ioctl(ctx, IOMMU_HWPT_ALLOC, &mut cmd).map(|_| cmd.out_hwpt_id)
}

#[test]
fn a_page_request_is_read_and_answered_through_the_fault_fd() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let (fault_id, fault_fd) = fault_alloc(&ctx);
    let hwpt = hwpt_with_fault(&ctx, idev, ioas, fault_id).unwrap();
    assert_eq!(
        hwpt_with_fault(&ctx, idev, ioas, ioas).err(),
        Some(Errno::ENOENT),
        "not a fault queue"
    );
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: hwpt }).unwrap();
    let file = FILES.get(fault_fd as i32).unwrap();
    assert!(!file.poll().input);
    test_cmd(
        &ctx,
        0,
        TestTriggerIopf {
            dev_id: idev,
            pasid: 0,
            grpid: 5,
            perm: IOMMU_PGFAULT_PERM_READ,
            addr: 0xdead_0000,
        },
    )
    .unwrap();
    assert!(file.poll().input);
    let mem = ProcessVm::current();
    let mut rec = IommuHwptPgfault::default();
    let n = file
        .read(
            &mem,
            &mut rec as *mut _ as u64,
            size_of::<IommuHwptPgfault>(),
        )
        .unwrap();
    assert_eq!(n, size_of::<IommuHwptPgfault>());
    assert_eq!(
        file.read(&mem, 0, 1),
        Err(Errno::ESPIPE),
        "before the queue"
    );
    assert_eq!(
        (rec.dev_id, rec.grpid, rec.addr, rec.cookie),
        (idev, 5, 0xdead_0000, 1)
    );
    assert_eq!(rec.flags, IOMMU_PGFAULT_FLAGS_LAST_PAGE);
    let addr = |r: &[IommuHwptPageResponse]| r.as_bytes().as_ptr() as u64;
    let resp = IommuHwptPageResponse {
        cookie: rec.cookie,
        code: IOMMUFD_PAGE_RESP_SUCCESS,
    };
    let bad_code = IommuHwptPageResponse { code: 2, ..resp };
    assert_eq!(file.write(&mem, addr(&[resp]), 7), Err(Errno::ESPIPE));
    assert_eq!(
        file.write(&mem, 0, 7),
        Err(Errno::ESPIPE),
        "before the read"
    );
    assert_eq!(file.write(&mem, 0, 8), Err(Errno::EFAULT));
    assert_eq!(
        file.write(&mem, addr(&[bad_code]), 8),
        Err(Errno::EINVAL),
        "the code before the cookie: the group stays"
    );
    assert_eq!(file.write(&mem, addr(&[resp, bad_code]), 16), Ok(8));
    assert_eq!(
        file.write(&mem, resp.as_bytes().as_ptr() as u64, 8),
        Err(Errno::EINVAL),
        "answered already"
    );
    // The queue is in use by the HWPT and its fd.
    assert_eq!(destroy(&ctx, fault_id), Err(Errno::EBUSY));
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: ioas }).unwrap();
    destroy(&ctx, hwpt).unwrap();
    assert_eq!(destroy(&ctx, fault_id), Err(Errno::EBUSY), "its fd is open");
    drop(file);
    FILES.close(fault_fd as i32);
    destroy(&ctx, fault_id).unwrap();
}

#[test]
fn a_domain_without_a_fault_queue_drops_page_requests() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (_stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    test_cmd(
        &ctx,
        0,
        TestTriggerIopf {
            dev_id: idev,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        test_cmd(
            &ctx,
            0,
            TestTriggerIopf {
                dev_id: 99,
                ..Default::default()
            }
        )
        .err(),
        Some(Errno::ENOENT)
    );
    let mut bad = IommuFaultAlloc {
        size: sz::<IommuFaultAlloc>(),
        flags: 1,
        ..Default::default()
    };
    assert_eq!(
        ioctl(&ctx, IOMMU_FAULT_QUEUE_ALLOC, &mut bad),
        Err(Errno::EOPNOTSUPP)
    );
}

#[test]
fn detaching_refuses_pending_faults() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let (fault_id, fault_fd) = fault_alloc(&ctx);
    let hwpt = hwpt_with_fault(&ctx, idev, ioas, fault_id).unwrap();
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: hwpt }).unwrap();
    test_cmd(
        &ctx,
        0,
        TestTriggerIopf {
            dev_id: idev,
            ..Default::default()
        },
    )
    .unwrap();
    let file = FILES.get(fault_fd as i32).unwrap();
    assert!(file.poll().input);
    test_cmd(&ctx, stdev, TestMockDomainReplace { pt_id: ioas }).unwrap();
    assert!(
        !file.poll().input,
        "the pending group was answered on replace"
    );
    drop(file);
    FILES.close(fault_fd as i32);
}

#[test]
fn pasid_faults_fall_back_to_a_nested_domain_on_the_rid() {
    let ctx = ctx();
    let ioas = ioas_alloc(&ctx);
    let (stdev, _auto, idev) = mock_domain(&ctx, ioas).unwrap();
    let mut parent = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags: IOMMU_HWPT_ALLOC_NEST_PARENT,
        dev_id: idev,
        pt_id: ioas,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_HWPT_ALLOC, &mut parent).unwrap();
    let (fault_id, fault_fd) = fault_alloc(&ctx);
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let mut nested = IommuHwptAlloc {
        size: sz::<IommuHwptAlloc>(),
        flags: IOMMU_HWPT_FAULT_ID_VALID,
        dev_id: idev,
        pt_id: parent.out_hwpt_id,
        data_type: IOMMU_HWPT_DATA_SELFTEST,
        data_len: sz::<IommuHwptSelftest>(),
        data_uptr: &data as *const _ as u64,
        fault_id,
        ..Default::default()
    };
    ioctl(&ctx, IOMMU_HWPT_ALLOC, &mut nested).unwrap();
    test_cmd(
        &ctx,
        stdev,
        TestMockDomainReplace {
            pt_id: nested.out_hwpt_id,
        },
    )
    .unwrap();
    // As the selftests do: PASID 1, which has no attachment of its own.
    test_cmd(
        &ctx,
        0,
        TestTriggerIopf {
            dev_id: idev,
            pasid: 1,
            grpid: 2,
            perm: 3,
            addr: 0xdead_beaf,
        },
    )
    .unwrap();
    let file = FILES.get(fault_fd as i32).unwrap();
    let mut rec = IommuHwptPgfault::default();
    let mem = ProcessVm::current();
    assert_eq!(
        file.read(
            &mem,
            &mut rec as *mut _ as u64,
            size_of::<IommuHwptPgfault>()
        ),
        Ok(size_of::<IommuHwptPgfault>())
    );
    assert_eq!(
        (rec.pasid, rec.flags),
        (
            1,
            IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE
        )
    );
    drop(file);
    FILES.close(fault_fd as i32);
}
