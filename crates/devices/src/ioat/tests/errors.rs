//! Errors: requests the IOMMU refuses, bad descriptors, no bus mastering.

use super::*;

/// The IOMMU fault behind the channel's last data error, on `side` at `iova`.
fn assert_fault(s: &Setup, side: CopySide, iova: u64) {
    let abort = s.f.model().channel().dma_abort().expect("a refusal");
    assert_eq!(abort.side, side);
    match abort.abort {
        DmaAbort::Iommu(DmaError::Fault(f)) => {
            assert_eq!(f.iova, iova);
            assert!(matches!(f.reason, FaultReason::NotPresent { .. }), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unmapped_source_is_an_iommu_fault_and_read_data_err() {
    let mut s = setup();
    let data = s.fill(SRC, 2 * PAGE as usize, 9);
    s.rig.ioas.iopt.unmap(SRC + PAGE, PAGE).unwrap();
    s.put(0, copy(SRC, DST, 2 * PAGE as u32, CTL_INT_EN, DESCS));
    s.start(DESCS, CHANCTRL_INT_REARM | CHANCTRL_ANY_ERR_ABORT_EN, 1);
    assert_eq!(status(&mut s.f), State::Halted as u64);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_READ_DATA));
    assert_eq!(chan(&mut s.f, CDAR, 8), DESCS, "the failed descriptor");
    assert_fault(&s, CopySide::Source, SRC + PAGE);
    // The page before the refused one was copied; nothing after.
    assert_eq!(s.get(DST, PAGE as usize), data[..PAGE as usize]);
    assert_eq!(s.get(DST + PAGE, 8), [0; 8]);
    assert_eq!(s.msix.count(), 0, "no ERR_INT_EN");
    // The refused read set Received Master Abort, as any refused read does.
    let mut st = [0u8; 2];
    s.f.config_read(pci::STATUS, &mut st).unwrap();
    assert_ne!(u16::from_le_bytes(st) & pci::STATUS_REC_MASTER_ABORT, 0);
    // Cleared and reset, the channel runs again.
    set_chan(&mut s.f, CHANERR, 4, u64::from(CHANERR_READ_DATA));
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    s.put(0, copy(SRC, DST, 64, 0, DESCS));
    s.start(DESCS, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
}

#[test]
fn an_unmapped_destination_is_write_data_err_and_err_int_en_interrupts() {
    let mut s = setup();
    s.fill(SRC, 64, 2);
    s.rig.ioas.iopt.unmap(DST, PAGE).unwrap();
    set_chan(&mut s.f, CHANCMP, 8, COMPLETION);
    s.put(0, copy(SRC, DST, 64, 0, DESCS));
    let ctrl = CHANCTRL_INT_REARM | CHANCTRL_ERR_INT_EN | CHANCTRL_ERR_COMPLETION_EN;
    s.start(DESCS, ctrl, 1);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_WRITE_DATA));
    assert_fault(&s, CopySide::Destination, DST);
    assert_eq!(s.msix.count(), 1, "ERR_INT_EN");
    let halted = State::Halted as u64;
    assert_eq!(
        s.get(COMPLETION, 8),
        halted.to_le_bytes(),
        "ERR_COMPLETION_EN"
    );
}

#[test]
fn descriptor_fetch_length_operation_and_completion_errors() {
    let mut s = setup();
    let cases: [(Descriptor, u32); 3] = [
        (copy(SRC, DST, 0, 0, DESCS), CHANERR_LENGTH),
        (copy(SRC, DST, (1 << 20) + 1, 0, DESCS), CHANERR_LENGTH),
        (
            copy(SRC, DST, 64, 0x87 << CTL_OP_SHIFT, DESCS),
            CHANERR_CONTROL,
        ),
    ];
    for (d, err) in cases {
        set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
        set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
        s.put(0, d);
        s.start(DESCS, 0, 1);
        assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(err), "{d:?}");
        assert_eq!(status(&mut s.f), State::Halted as u64);
    }
    // A null descriptor moves nothing and completes.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
    s.put(0, copy(0, 0, 1, CTL_NULL | CTL_COMPL_WRITE, DESCS + 1));
    set_chan(&mut s.f, CHANCMP, 8, COMPLETION);
    s.start(DESCS, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.get(COMPLETION, 8), (DESCS | 1).to_le_bytes());
    // A misaligned next halts the channel before it is fetched.
    set_chan(&mut s.f, DMACOUNT, 2, 2);
    assert_eq!(
        chan(&mut s.f, CHANERR, 4),
        u64::from(CHANERR_NEXT_DESC_ALIGN)
    );
    // A chain in unmapped memory: the fetch is refused.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
    s.start(IOVA + 64 * PAGE, 0, 1);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_NEXT_ADDR));
    // A completion address the IOMMU refuses.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    set_chan(&mut s.f, CHANERR, 4, u64::from(u32::MAX));
    s.put(0, copy(SRC, DST, 64, CTL_COMPL_WRITE, DESCS));
    set_chan(&mut s.f, CHANCMP, 8, IOVA + 64 * PAGE);
    s.start(DESCS, 0, 1);
    assert_eq!(
        chan(&mut s.f, CHANERR, 4),
        u64::from(CHANERR_COMPLETION_ADDR)
    );
}

#[test]
fn without_bus_master_enable_the_fetch_master_aborts() {
    let mut s = setup();
    s.f.config_write(pci::COMMAND, &pci::COMMAND_MEMORY.to_le_bytes())
        .unwrap();
    s.put(0, copy(SRC, DST, 64, 0, DESCS));
    s.start(DESCS, 0, 1);
    assert_eq!(chan(&mut s.f, CHANERR, 4), u64::from(CHANERR_NEXT_ADDR));
    let abort = s.f.model().channel().dma_abort().unwrap();
    assert_eq!(abort.abort, DmaAbort::MasterAbort);
}
