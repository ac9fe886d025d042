//! Descriptor chains, completion writeback and interrupts.

use super::*;

#[test]
fn a_chain_runs_to_dmacount_and_appends_from_the_last_next() {
    let mut s = setup();
    let data = s.fill(SRC, 3 * PAGE as usize, 1);
    for i in 0..3 {
        let off = i * PAGE;
        let d = copy(
            SRC + off,
            DST + off,
            PAGE as u32,
            0,
            DESCS + (i + 1) * DESC_SIZE,
        );
        s.put(i, d);
    }
    s.start(DESCS, 0, 2);
    assert_eq!(status(&mut s.f), State::Done as u64);
    let sts = chan(&mut s.f, CHANSTS, 8);
    assert_eq!(
        sts & CHANSTS_COMPLETED_ADDR,
        DESCS + DESC_SIZE,
        "the second completed"
    );
    assert_eq!(s.get(DST, 2 * PAGE as usize), data[..2 * PAGE as usize]);
    assert_eq!(s.get(DST + 2 * PAGE, 16), [0; 16], "the third not issued");
    // From done, a higher count continues with the third.
    set_chan(&mut s.f, DMACOUNT, 2, 3);
    assert_eq!(s.get(DST, 3 * PAGE as usize), data);
    let sts = chan(&mut s.f, CHANSTS, 8);
    assert_eq!(sts, (DESCS + 2 * DESC_SIZE) | State::Done as u64);
    assert_eq!(chan(&mut s.f, CDAR, 8), DESCS + 2 * DESC_SIZE);
    // SUSPEND, then a new chain from CHAINADDR counts from zero again.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_SUSPEND.into());
    assert_eq!(status(&mut s.f), State::Suspended as u64);
    s.put(3, copy(SRC, DST + 3 * PAGE, 64, 0, DESCS + 3 * DESC_SIZE));
    s.start(DESCS + 3 * DESC_SIZE, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.get(DST + 3 * PAGE, 64), data[..64]);
    // RESUME of a suspended, done channel leaves it done.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_SUSPEND.into());
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESUME.into());
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.msix.count(), 0, "no descriptor asked for an interrupt");
}

#[test]
fn a_descriptor_that_points_at_itself_runs_count_times() {
    let mut s = setup();
    // The selftest driver's memcpy_storm: one descriptor, next = itself.
    s.fill(SRC, 8 * PAGE as usize, 3);
    s.put(0, copy(SRC, DST, 8 * PAGE as u32, 0, DESCS));
    s.start(DESCS, CHANCTRL_INT_REARM | CHANCTRL_ANY_ERR_ABORT_EN, 1000);
    assert_eq!(status(&mut s.f), State::Done as u64);
    assert_eq!(s.get(DST, 8 * PAGE as usize), s.get(SRC, 8 * PAGE as usize));
    // 65535 counts wrap nothing: the count is compared modulo 2^16.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_SUSPEND.into());
    s.start(DESCS, 0, u16::MAX);
    assert_eq!(status(&mut s.f), State::Done as u64);
}

#[test]
fn the_completion_is_written_and_int_en_signals_msix_once_per_rearm() {
    let mut s = setup();
    s.fill(SRC, 64, 5);
    set_chan(&mut s.f, CHANCMP, 8, COMPLETION);
    let ctl = CTL_COMPL_WRITE | CTL_INT_EN;
    s.put(0, copy(SRC, DST, 64, ctl, DESCS + DESC_SIZE));
    s.put(1, copy(SRC, DST + 64, 64, ctl, DESCS + 2 * DESC_SIZE));
    s.start(DESCS, CHANCTRL_INT_REARM, 2);
    let done = (DESCS + DESC_SIZE) | State::Done as u64;
    assert_eq!(s.get(COMPLETION, 8), done.to_le_bytes());
    assert_eq!(
        s.msix.count(),
        1,
        "the first INT_EN disarms; the second is not granted"
    );
    assert_eq!(
        chan(&mut s.f, CHANCTRL, 2) & u64::from(CHANCTRL_INT_REARM),
        0
    );
    assert_eq!(read(&mut s.f, ATTNSTATUS, 4), 1);
    let intr = read(&mut s.f, INTRCTRL, 1) as u8;
    assert_eq!(intr, INTRCTRL_MSIX_VECTOR_CONTROL | INTRCTRL_INT_STATUS);
    // Re-armed, the next descriptor's interrupt goes out.
    s.put(2, copy(SRC, DST, 64, CTL_INT_EN, DESCS));
    set_chan(&mut s.f, CHANCTRL, 2, CHANCTRL_INT_REARM.into());
    set_chan(&mut s.f, DMACOUNT, 2, 3);
    assert_eq!(s.msix.count(), 2);
    // Without MSIX_VECTOR_CONTROL or MASTER_INT_EN, no message.
    write(&mut s.f, INTRCTRL, 1, INTRCTRL_INT_STATUS.into());
    assert_eq!(read(&mut s.f, ATTNSTATUS, 4), 0);
    set_chan(&mut s.f, CHANCTRL, 2, CHANCTRL_INT_REARM.into());
    set_chan(&mut s.f, DMACOUNT, 2, 4);
    assert_eq!(s.msix.count(), 2);
    assert_eq!(read(&mut s.f, INTRCTRL, 1) as u8, INTRCTRL_INT_STATUS);
}

#[test]
fn without_msix_the_interrupt_is_intx_under_master_int_en() {
    let mut s = setup();
    let intx = CountingTrigger::new();
    s.f.interrupts()
        .set_trigger(IrqIndex::Intx, 0, Some(intx.clone()));
    s.f.config_write(MSIX_CAP + 2, &0u16.to_le_bytes()).unwrap();
    write(&mut s.f, INTRCTRL, 1, INTRCTRL_MASTER_INT_EN.into());
    s.put(0, copy(SRC, DST, 64, CTL_INT_EN, DESCS));
    s.start(DESCS, CHANCTRL_INT_REARM, 1);
    assert_eq!(intx.count(), 1);
    let intr = read(&mut s.f, INTRCTRL, 1) as u8;
    assert_eq!(intr & INTRCTRL_INT, INTRCTRL_INT);
    let mut st = [0u8; 2];
    s.f.config_read(pci::STATUS, &mut st).unwrap();
    assert_ne!(
        u16::from_le_bytes(st) & pci::STATUS_INTERRUPT,
        0,
        "asserted"
    );
    // Clearing INT_STATUS deasserts the line.
    write(
        &mut s.f,
        INTRCTRL,
        1,
        (INTRCTRL_MASTER_INT_EN | INTRCTRL_INT_STATUS).into(),
    );
    s.f.config_read(pci::STATUS, &mut st).unwrap();
    assert_eq!(u16::from_le_bytes(st) & pci::STATUS_INTERRUPT, 0);
    assert_eq!(s.msix.count(), 0);
}

#[test]
fn a_copy_crosses_pages_whose_memory_is_not_contiguous() {
    let mut s = setup();
    // Page 40 of IOVA space maps user memory far from page 41's.
    let (far, near) = (UVA + (1 << 30), UVA + (2 << 30));
    s.rig.map(IOVA + 40 * PAGE, far, PAGE);
    s.rig.map(IOVA + 41 * PAGE, near, PAGE);
    let data = s.fill(SRC, 2 * PAGE as usize, 4);
    s.put(
        0,
        copy(SRC + 100, IOVA + 40 * PAGE + 50, PAGE as u32 + 10, 0, DESCS),
    );
    s.start(DESCS, 0, 1);
    assert_eq!(status(&mut s.f), State::Done as u64);
    let n = PAGE as usize - 50;
    assert_eq!(s.rig.mem.get(far + 50, n), data[100..100 + n]);
    assert_eq!(s.rig.mem.get(near, 60), data[100 + n..100 + n + 60]);
}
