//! Scenarios of a guest driving a vSMMU: it builds CD tables and stage-1 tables in its
//! memory, binds them with nested STEs, and DMA goes through both stages; the SMMU serves
//! cached translations and CDs until the guest's CMDQ invalidations; faults of its devices
//! reach its vEVENTQ under their vSIDs.

use super::rig::{RAM_UVA, Rig, read};
use super::spec::{cmd, evt, put, ste};
use super::*;
use crate::dma::DmaError;
use crate::iommu::NO_PASID;
use crate::iommu::domain::DomainType;
use crate::iommu::translate::{FaultReason, Stage};
use uiommu_pt::format::arm_lpae::spec as lpae;
use uiommu_uapi::UserMemory;

const VSID: u64 = 0x42;

fn nh_va(asid: u16, va: u64) -> [u64; 2] {
    [
        cmd::OP_TLBI_NH_VA | put(cmd::TLBI_ASID, u64::from(asid)),
        va,
    ]
}

fn nh_asid(asid: u16) -> [u64; 2] {
    [
        cmd::OP_TLBI_NH_ASID | put(cmd::TLBI_ASID, u64::from(asid)),
        0,
    ]
}

fn cfgi_cd(vsid: u64, ssid: u64) -> [u64; 2] {
    [
        cmd::OP_CFGI_CD | put(cmd::CFGI_SID, vsid) | put(cmd::CFGI_SSID, ssid),
        cmd::CFGI_LEAF,
    ]
}

fn fault_of(e: DmaError) -> FaultReason {
    match e {
        DmaError::Fault(f) => f.reason,
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_dma_serves_stale_translations_until_the_guest_invalidates() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device(0);
    let (_, viommu, veventq) = rig.vsmmu(&idev, Some(VSID));
    let root = rig.ram.new_table();
    let cdtab = rig.ram.new_table();
    rig.write_cd(cdtab, 7, root);
    let iova = 0x40_0000;
    mem.write(RAM_UVA + 0x2000, b"hello").unwrap();
    mem.write(RAM_UVA + 0x3000, b"world").unwrap();
    let leaf = rig.guest_map(root, iova, 0x2000, 0);
    let nested = rig
        .nested(&idev, viommu, Rig::s1_ste(cdtab, 0, 0), 0)
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    let master = idev.phys.state::<SmmuMaster>().unwrap();
    assert_eq!(master.vsid(), Some(VSID));

    assert_eq!(read(&rig, &idev, NO_PASID, iova, 5).unwrap(), b"hello");
    crate::dma::dma_write(&idev, NO_PASID, iova + 5, b"!", mem).unwrap();
    assert_eq!(mem.get(RAM_UVA + 0x2000, 6), b"hello!");

    // The guest repoints the page without invalidating: the TLB still has the old one.
    rig.ram
        .write(leaf, (rig.ram.read(leaf) & !lpae::addr(12)) | 0x3000);
    assert_eq!(read(&rig, &idev, NO_PASID, iova, 5).unwrap(), b"hello");
    // A TLBI of another ASID changes nothing; of its own ASID and VA, the new page.
    assert_eq!(rig.cmdq(viommu, &[nh_va(8, iova)]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, NO_PASID, iova, 5).unwrap(), b"hello");
    assert_eq!(rig.cmdq(viommu, &[nh_va(7, iova)]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, NO_PASID, iova, 5).unwrap(), b"world");

    // Unmapped in the guest: stale until TLBI_NH_ASID, then F_TRANSLATION to the vEVENTQ
    // with the vSID.
    rig.ram.write(leaf, 0);
    assert!(read(&rig, &idev, NO_PASID, iova, 5).is_ok());
    assert_eq!(rig.cmdq(viommu, &[nh_asid(7)]), (1, Ok(())));
    let reason = fault_of(read(&rig, &idev, NO_PASID, iova + 3, 1).unwrap_err());
    assert_eq!(
        reason,
        FaultReason::NotPresent {
            stage: Stage::First,
            level: 0
        }
    );
    let ev = rig.vevents(veventq);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0][0],
        u64::from(evt::F_TRANSLATION) | (VSID << 32),
        "vSID, no SSV"
    );
    assert_eq!(ev[0][1] & (evt::RNW | evt::S2), evt::RNW);
    assert_eq!(ev[0][2], iova + 3);
    assert_eq!(rig.drv.unit().take_events(), (vec![], false));

    // A read-only page refuses writes: F_PERMISSION.
    rig.guest_map(root, iova, 0x2000, lpae::AP_RDONLY);
    assert_eq!(rig.cmdq(viommu, &[[cmd::OP_TLBI_NSNH_ALL, 0]]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, NO_PASID, iova, 5).unwrap(), b"hello");
    let err = crate::dma::dma_write(&idev, NO_PASID, iova, b"x", mem).unwrap_err();
    assert!(matches!(
        fault_of(err),
        FaultReason::Permission {
            stage: Stage::First,
            ..
        }
    ));
    assert_eq!(
        rig.vevents(veventq)[0][0] & 0xff,
        u64::from(evt::F_PERMISSION)
    );
}

#[test]
fn stage_two_faults_stay_with_the_host() {
    let rig = Rig::new();
    let idev = rig.device(0);
    let (_, viommu, veventq) = rig.vsmmu(&idev, Some(VSID));
    let root = rig.ram.new_table();
    let cdtab = rig.ram.new_table();
    rig.write_cd(cdtab, 1, root);
    // The guest maps an IPA beyond its RAM: stage 2 has nothing there.
    rig.guest_map(root, 0x1000, 0x4000_0000, 0);
    let nested = rig
        .nested(&idev, viommu, Rig::s1_ste(cdtab, 0, 0), 0)
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    let reason = fault_of(read(&rig, &idev, NO_PASID, 0x1000, 4).unwrap_err());
    assert!(matches!(
        reason,
        FaultReason::NotPresent {
            stage: Stage::Second,
            ..
        }
    ));
    assert!(
        rig.vevents(veventq).is_empty(),
        "S2 events are not the guest's"
    );
    let (host, _) = rig.drv.unit().take_events();
    assert_eq!(host.len(), 1);
    assert_eq!(
        host[0][0],
        u64::from(evt::F_TRANSLATION) | (u64::from(rig_sid(&idev)) << 32)
    );
    assert_ne!(host[0][1] & evt::S2, 0);
}

fn rig_sid(idev: &crate::context::Handle<crate::device::Device>) -> u32 {
    idev.phys.state::<SmmuMaster>().unwrap().sid
}

#[test]
fn abort_and_bypass_stes() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device(0);
    // No vDEVICE: abort and bypass STEs may still be attached; stage 1 may not.
    let (_, viommu, veventq) = rig.vsmmu(&idev, None);
    mem.write(RAM_UVA + 0x5000, b"raw").unwrap();
    let bypass = rig
        .nested(&idev, viommu, ste::V | put(ste::CFG, ste::CFG_BYPASS), 0)
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, bypass).unwrap();
    // Stage 1 bypassed: the IOVA is the IPA, translated by stage 2.
    assert_eq!(read(&rig, &idev, NO_PASID, 0x5000, 3).unwrap(), b"raw");
    let abort = rig.nested(&idev, viommu, ste::V, 0).unwrap();
    crate::device::replace(&rig.ctx, &idev, NO_PASID, abort).unwrap();
    assert_eq!(
        fault_of(read(&rig, &idev, NO_PASID, 0x5000, 3).unwrap_err()),
        FaultReason::Blocked
    );
    // V clear: an abort STE too, whatever else the guest wrote.
    let invalid = rig
        .nested(&idev, viommu, 0xffff_0000_0000_000a, u64::MAX)
        .unwrap();
    let d = rig.domain(invalid);
    let n = d.as_any().downcast_ref::<SmmuNested>().unwrap();
    assert_eq!((n.ste, n.config()), ([0, 0], ste::CFG_ABORT));
    crate::device::replace(&rig.ctx, &idev, NO_PASID, invalid).unwrap();
    assert_eq!(
        fault_of(read(&rig, &idev, NO_PASID, 0x5000, 3).unwrap_err()),
        FaultReason::Blocked
    );
    assert!(rig.vevents(veventq).is_empty(), "aborts record nothing");
    let s1 = rig
        .nested(&idev, viommu, Rig::s1_ste(0x10_0000, 0, 0), 0)
        .unwrap();
    assert_eq!(
        crate::device::replace(&rig.ctx, &idev, NO_PASID, s1),
        Err(Errno::ENOENT)
    );
    // The nest parent itself on the RID: "s1-bypass s2-translate" without a vSMMU.
    let parent = rig.domain(rig.vsmmu(&idev, None).0);
    assert!(
        parent
            .as_any()
            .downcast_ref::<SmmuPaging>()
            .unwrap()
            .is_s2()
    );
}

#[test]
fn a_bad_cd_is_reported_to_the_guest_with_its_vsid_and_ssid() {
    let rig = Rig::new();
    let idev = rig.device(20);
    let (_, viommu, veventq) = rig.vsmmu(&idev, Some(VSID));
    let root = rig.ram.new_table();
    let cdtab = rig.ram.new_table();
    // CD 0 valid, CD 1 left invalid, CD 2 with AArch32 tables (illegal).
    rig.write_cd(cdtab, 1, root);
    rig.write_cd(cdtab + 2 * 64, 2, root);
    rig.ram.write(
        cdtab + 2 * 64,
        rig.ram.read(cdtab + 2 * 64) & !super::spec::cd::AA64,
    );
    let w1 = put(ste::S1DSS, 2);
    let nested = rig
        .nested(&idev, viommu, Rig::s1_ste(cdtab, 2, 0), w1)
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    for (pasid, event) in [
        (1, evt::C_BAD_CD),
        (2, evt::C_BAD_CD),
        (4, evt::C_BAD_SUBSTREAMID),
    ] {
        let reason = fault_of(read(&rig, &idev, pasid, 0x1000, 1).unwrap_err());
        assert_eq!(reason, FaultReason::BadConfig { event });
        let ev = rig.vevents(veventq);
        let ssid = u64::from(pasid) << 12;
        assert_eq!(
            ev,
            vec![[
                u64::from(event) | evt::SSV | ssid | (VSID << 32),
                ev[0][1],
                0x1000,
                0
            ]]
        );
    }
    // S1DSS terminate: requests without a substream are F_STREAM_DISABLED.
    let term = rig
        .nested(&idev, viommu, Rig::s1_ste(cdtab, 2, 0), 0)
        .unwrap();
    crate::device::replace(&rig.ctx, &idev, NO_PASID, term).unwrap();
    let reason = fault_of(read(&rig, &idev, NO_PASID, 0x1000, 1).unwrap_err());
    assert_eq!(
        reason,
        FaultReason::BadConfig {
            event: evt::F_STREAM_DISABLED
        }
    );
    assert_eq!(rig.vevents(veventq).len(), 1);
}

#[test]
fn substreams_are_isolated_and_invalidated_by_asid() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device(20);
    let (_, viommu, _) = rig.vsmmu(&idev, Some(VSID));
    // A 2-level CD table with 4K leaves: SSIDs 65 and 130 in different leaf tables.
    let l1 = rig.ram.new_table();
    let (leaf_a, leaf_b) = (rig.ram.new_table(), rig.ram.new_table());
    rig.ram.write(l1 + 8, leaf_a | 1);
    rig.ram.write(l1 + 16, leaf_b | 1);
    let (root_a, root_b) = (rig.ram.new_table(), rig.ram.new_table());
    rig.write_cd(leaf_a + 64, 10, root_a);
    rig.write_cd(leaf_b + 2 * 64, 20, root_b);
    mem.write(RAM_UVA + 0x6000, b"AAAA").unwrap();
    mem.write(RAM_UVA + 0x7000, b"BBBB").unwrap();
    mem.write(RAM_UVA + 0x8000, b"CCCC").unwrap();
    let pa = rig.guest_map(root_a, 0x9000, 0x6000, 0);
    let pb = rig.guest_map(root_b, 0x9000, 0x7000, 0);
    let ste0 = Rig::s1_ste(l1, 8, 1);
    let nested = rig.nested(&idev, viommu, ste0, put(ste::S1DSS, 2)).unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    assert_eq!(read(&rig, &idev, 65, 0x9000, 4).unwrap(), b"AAAA");
    assert_eq!(read(&rig, &idev, 130, 0x9000, 4).unwrap(), b"BBBB");
    // SSID 3's L1 descriptor is invalid.
    let reason = fault_of(read(&rig, &idev, 200, 0x9000, 4).unwrap_err());
    assert_eq!(
        reason,
        FaultReason::BadConfig {
            event: evt::C_BAD_SUBSTREAMID
        }
    );
    // Both repointed; only ASID 10 invalidated: only SSID 65 sees it.
    rig.ram
        .write(pa, (rig.ram.read(pa) & !lpae::addr(12)) | 0x8000);
    rig.ram
        .write(pb, (rig.ram.read(pb) & !lpae::addr(12)) | 0x8000);
    assert_eq!(rig.cmdq(viommu, &[nh_asid(10)]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, 65, 0x9000, 4).unwrap(), b"CCCC");
    assert_eq!(read(&rig, &idev, 130, 0x9000, 4).unwrap(), b"BBBB");
    // TLBI_NH_VAA: every ASID.
    let vaa = [cmd::OP_TLBI_NH_VAA, 0x9000];
    assert_eq!(rig.cmdq(viommu, &[vaa]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, 130, 0x9000, 4).unwrap(), b"CCCC");
}

#[test]
fn cds_are_cached_until_cfgi_cd() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device(0);
    let (_, viommu, _) = rig.vsmmu(&idev, Some(VSID));
    let (root1, root2, cdtab) = (
        rig.ram.new_table(),
        rig.ram.new_table(),
        rig.ram.new_table(),
    );
    mem.write(RAM_UVA + 0x2000, b"one").unwrap();
    mem.write(RAM_UVA + 0x3000, b"two").unwrap();
    rig.guest_map(root1, 0x1000, 0x2000, 0);
    rig.guest_map(root2, 0x1000, 0x3000, 0);
    rig.write_cd(cdtab, 5, root1);
    let nested = rig
        .nested(&idev, viommu, Rig::s1_ste(cdtab, 0, 0), 0)
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    assert_eq!(read(&rig, &idev, NO_PASID, 0x1000, 3).unwrap(), b"one");
    // New TTB0 in the CD; a TLBI alone walks the cached CD's table again.
    rig.write_cd(cdtab, 5, root2);
    assert_eq!(rig.cmdq(viommu, &[nh_asid(5)]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, NO_PASID, 0x1000, 3).unwrap(), b"one");
    // CFGI_CD names the vSID; the vSMMU turns it into the stream's SID.
    assert_eq!(rig.cmdq(viommu, &[cfgi_cd(VSID, 0)]), (1, Ok(())));
    assert_eq!(read(&rig, &idev, NO_PASID, 0x1000, 3).unwrap(), b"two");
    // An unknown vSID is EIO; a CFGI_STE is not a command the guest may send.
    assert_eq!(
        rig.cmdq(viommu, &[cfgi_cd(VSID + 1, 0)]),
        (0, Err(Errno::EIO))
    );
    let cfgi_all = [cmd::OP_CFGI_CD_ALL | put(cmd::CFGI_SID, VSID), 0];
    let cfgi_ste = [cmd::OP_CFGI_STE | put(cmd::CFGI_SID, VSID), 0];
    assert_eq!(
        rig.cmdq(viommu, &[cfgi_all, nh_asid(5), cfgi_ste]),
        (2, Err(Errno::EIO))
    );
}

#[test]
fn commands_after_the_last_full_batch_do_not_run_when_one_fails() {
    let rig = Rig::new();
    let mem = &*rig.mem;
    let idev = rig.device(0);
    let (_, viommu, _) = rig.vsmmu(&idev, Some(VSID));
    let (root, cdtab) = (rig.ram.new_table(), rig.ram.new_table());
    mem.write(RAM_UVA + 0x2000, b"old").unwrap();
    mem.write(RAM_UVA + 0x3000, b"new").unwrap();
    let leaf = rig.guest_map(root, 0x1000, 0x2000, 0);
    rig.write_cd(cdtab, 3, root);
    let nested = rig
        .nested(&idev, viommu, Rig::s1_ste(cdtab, 0, 0), 0)
        .unwrap();
    crate::device::attach(&rig.ctx, &idev, NO_PASID, nested).unwrap();
    assert_eq!(read(&rig, &idev, NO_PASID, 0x1000, 3).unwrap(), b"old");
    rig.ram
        .write(leaf, (rig.ram.read(leaf) & !lpae::addr(12)) | 0x3000);
    // A valid TLBI then an illegal command: counted as handled, yet never issued.
    let bad = [cmd::OP_TLBI_NH_ALL | 1 << 8, 0];
    assert_eq!(rig.cmdq(viommu, &[nh_asid(3), bad]), (1, Err(Errno::EIO)));
    assert_eq!(read(&rig, &idev, NO_PASID, 0x1000, 3).unwrap(), b"old");
    // 63 commands make a batch: the TLBI in it runs even though the 64th fails.
    let mut cmds = vec![nh_asid(3)];
    cmds.extend(std::iter::repeat_n(nh_asid(9), 62));
    cmds.push(bad);
    assert_eq!(rig.cmdq(viommu, &cmds), (63, Err(Errno::EIO)));
    assert_eq!(read(&rig, &idev, NO_PASID, 0x1000, 3).unwrap(), b"new");
    // No entries, or entries of another type: EINVAL before anything.
    assert_eq!(rig.cmdq(viommu, &[]), (0, Err(Errno::EINVAL)));
}

#[test]
fn illegal_guest_stes_get_the_kernel_errno() {
    let rig = Rig::new();
    let idev = rig.device(0);
    let (_, viommu, _) = rig.vsmmu(&idev, Some(VSID));
    let s1 = Rig::s1_ste(0x10_0000, 0, 0);
    for (w0, w1) in [
        (s1 | 1 << 54, 0),
        (s1, 1 << 25),
        (s1, put(ste::EATS, 3)),
        (ste::V | put(ste::CFG, ste::CFG_NESTED), 0),
    ] {
        assert_eq!(
            rig.nested(&idev, viommu, w0, w1),
            Err(Errno::EIO),
            "{w0:#x} {w1:#x}"
        );
    }
    // A vSMMU needs a stage-2 nest parent; nested HWPTs take no flags.
    let ok = rig.nested(&idev, viommu, s1, 0);
    assert!(ok.is_ok());
    let d = rig.domain(ok.unwrap());
    assert_eq!(d.domain_type(), DomainType::Nested);
}
