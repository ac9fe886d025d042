//! Identity, device registers and the channel registers' access semantics.

use super::*;

#[test]
fn identity_and_device_registers_are_the_skx_engines() {
    let mut s = setup();
    let f = &mut s.f;
    let mut id = [0u8; 4];
    f.config_read(pci::VENDOR_ID, &mut id).unwrap();
    assert_eq!(u32::from_le_bytes(id), 0x2021_8086);
    f.config_read(pci::REVISION_ID, &mut id).unwrap();
    assert_eq!(u32::from_le_bytes(id), 0x0880_0004);
    // BAR 0: 16 KiB of 64-bit memory.
    f.config_write(pci::BASE_ADDRESS_0, &[0xff; 4]).unwrap();
    f.config_read(pci::BASE_ADDRESS_0, &mut id).unwrap();
    assert_eq!(u32::from_le_bytes(id), 0xffff_c004);
    // MSI-X: one vector, table at 0x2000 and PBA at 0x3000 of BAR 0.
    let mut cap = [0u8; 12];
    for (i, b) in cap.iter_mut().enumerate() {
        f.config_read(MSIX_CAP + i as u16, std::slice::from_mut(b))
            .unwrap();
    }
    assert_eq!(cap[0], pci::CAP_ID_MSIX);
    assert_eq!(
        u16::from_le_bytes([cap[2], cap[3]]) & pci::MSIX_FLAGS_QSIZE,
        0
    );
    assert_eq!(le_value(&cap[4..8]), 0x2000);
    assert_eq!(le_value(&cap[8..12]), 0x3000);
    assert_eq!(
        f.description().reset_method(),
        Some(crate::ResetMethod::PowerManagement)
    );
    // What the drivers probe: one channel, 1 MiB per descriptor, version 3.3.
    assert_eq!(read(f, CHANCNT, 1), 1);
    assert_eq!(read(f, XFERCAP, 1), 20);
    assert_eq!(read(f, CBVER, 1), 0x33);
    assert_eq!(read(f, DMA_CAP, 4), 0, "copy only");
    assert_eq!(
        read(f, 0, 8),
        0x0800_1401,
        "CHANCNT, XFERCAP, GENCTRL, INTRCTRL"
    );
    // Halted from power-on; DMA_COMP reads version 2 rings.
    assert_eq!(status(f), State::Halted as u64);
    assert_eq!(chan(f, DMA_COMP, 2), 2);
    // Stored device registers.
    write(f, INTRDELAY, 2, 0xffff);
    assert_eq!(read(f, INTRDELAY, 2), 0x3fff);
    write(f, GENCTRL, 1, 1);
    assert_eq!(read(f, GENCTRL, 1), 1);
    // A function reset: power-on values.
    f.reset();
    f.config_write(pci::COMMAND, &pci::COMMAND_MEMORY.to_le_bytes())
        .unwrap();
    assert_eq!(read(f, GENCTRL, 1), 0);
    assert_eq!(read(f, INTRCTRL, 1), 0);
}

#[test]
fn channel_registers_take_any_width_and_their_semantics() {
    let mut s = setup();
    let f = &mut s.f;
    // CHAINADDR in two 32-bit halves, as Linux writes it; read whole.
    set_chan(f, CHAINADDR, 4, 0x89ab_cdc0);
    set_chan(f, CHAINADDR + 4, 4, 0x0123_4567);
    assert_eq!(chan(f, CHAINADDR, 8), 0x0123_4567_89ab_cdc0);
    assert_eq!(chan(f, CHAINADDR + 4, 4), 0x0123_4567);
    set_chan(f, CHANCMP, 8, COMPLETION);
    assert_eq!(chan(f, CHANCMP, 8), COMPLETION);
    // CHANCTRL keeps its defined bits only.
    set_chan(f, CHANCTRL, 2, 0xffff);
    assert_eq!(chan(f, CHANCTRL, 2), u64::from(CHANCTRL_RW));
    // CHANERR is write-1-to-clear; the mask is read-write.
    set_chan(f, CHANERR_MASK, 4, 0x30000);
    assert_eq!(chan(f, CHANERR_MASK, 4), 0x30000);
    s.start(DESCS + 8, 0, 1);
    assert_eq!(s.f.model().channel().errors(), CHANERR_CHAIN_ADDR_VALUE);
    assert_eq!(status(&mut s.f), State::Halted as u64);
    set_chan(&mut s.f, CHANERR, 4, 0);
    assert_eq!(
        chan(&mut s.f, CHANERR, 4),
        u64::from(CHANERR_CHAIN_ADDR_VALUE)
    );
    set_chan(&mut s.f, CHANERR, 4, u64::from(CHANERR_CHAIN_ADDR_VALUE));
    assert_eq!(chan(&mut s.f, CHANERR, 4), 0);
    // RESET: halted, registers back, and the command reads 0 at once.
    set_chan(&mut s.f, CHANCMD, 1, CHANCMD_RESET.into());
    assert_eq!(chan(&mut s.f, CHANCMD, 1), 0);
    assert_eq!(chan(&mut s.f, CHAINADDR, 8), 0);
    assert_eq!(chan(&mut s.f, CHANCTRL, 2), 0);
    assert_eq!(status(&mut s.f), State::Halted as u64);
    // Beyond the channel block: zeros.
    assert_eq!(read(&mut s.f, 0x100, 8), 0);
}
