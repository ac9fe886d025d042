//! The IOAT engine end to end behind VT-d: a function probed from the unit, bound and
//! attached to an IOAS, a descriptor chain copying through the unit's second-stage table the
//! way the VFIO selftest driver programs it (CHAINADDR, CHANCTRL, DMACOUNT; CHANSTS polled);
//! then the destination is unmapped and the next copy faults in the unit, which records the
//! fault, and the channel halts with WRITE_DATA_ERR.

use std::sync::{Arc, Mutex};
use uiommu_core::dma::DmaError;
use uiommu_core::driver::vtd::{VtdConfig, VtdDriver};
use uiommu_devices::config::spec as pci;
use uiommu_devices::dma::FaultLog;
use uiommu_devices::ioat::{self, Ioat, regs::*};
use uiommu_devices::testing::Rig;
use uiommu_devices::{Function, PciFunction};
use uiommu_uapi::UserMemory;

const IOVA: u64 = 0x1_0000_0000;
const UVA: u64 = 0x7f00_0000_0000;
/// The descriptor page, then 1 MiB of source and 1 MiB of destination.
const DESC: u64 = IOVA;
const SRC: u64 = IOVA + 0x1000;
const DST: u64 = SRC + (1 << 20);
const LEN: u64 = 0x1000 + (2 << 20);

fn chan_write(f: &mut Function<Ioat>, reg: u64, v: u64, len: usize) {
    f.bar_write(0, CHANNEL_BASE + reg, &v.to_le_bytes()[..len])
        .unwrap();
}

fn chan_read(f: &mut Function<Ioat>, reg: u64) -> u64 {
    let mut b = [0u8; 8];
    f.bar_read(0, CHANNEL_BASE + reg, &mut b).unwrap();
    u64::from_le_bytes(b)
}

/// The selftest driver's `__ioat_memcpy_start` for one 1 MiB copy, then its wait: the state.
fn memcpy(f: &mut Function<Ioat>, mem: &dyn UserMemory) -> u64 {
    let desc = Descriptor {
        size: 1 << 20,
        ctl: 0,
        src: SRC,
        dst: DST,
        next: DESC,
    };
    mem.write(UVA, &desc.to_bytes()).unwrap();
    chan_write(f, CHAINADDR, DESC, 8);
    let ctrl = CHANCTRL_INT_REARM | CHANCTRL_ANY_ERR_ABORT_EN;
    chan_write(f, CHANCTRL, ctrl.into(), 2);
    chan_write(f, DMACOUNT, 1, 2);
    chan_read(f, CHANSTS) & CHANSTS_STATUS
}

#[test]
fn ioat_copies_through_vtd_and_the_unit_records_the_write_fault() {
    let vtd = VtdDriver::new(VtdConfig::default());
    let rig = Rig::new(vtd.clone());
    let mut f = ioat::function(rig.probe());
    rig.bind(&mut f);
    rig.map(IOVA, UVA, LEN);
    let command = pci::COMMAND_MEMORY | pci::COMMAND_MASTER;
    f.config_write(pci::COMMAND, &command.to_le_bytes())
        .unwrap();
    let logged = Arc::new(Mutex::new(Vec::new()));
    let sink = logged.clone();
    let log: FaultLog = Arc::new(move |e| {
        if let DmaError::Fault(f) = e {
            sink.lock().unwrap().push(*f);
        }
    });
    f.dma().set_fault_log(Some(log));

    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 + 7) as u8).collect();
    rig.mem.write(UVA + 0x1000, &data).unwrap();
    assert_eq!(memcpy(&mut f, &*rig.mem), 1, "done");
    assert_eq!(rig.mem.get(UVA + 0x1000 + (1 << 20), 1 << 20), data);
    assert_eq!(chan_read(&mut f, CHANSTS) & CHANSTS_COMPLETED_ADDR, DESC);

    // Suspended, as the driver leaves it; the destination leaves the IOAS.
    chan_write(&mut f, CHANCMD, CHANCMD_SUSPEND.into(), 1);
    rig.ioas.iopt.unmap(IOVA, LEN).unwrap();
    rig.map(IOVA, UVA, 0x1000 + (1 << 20));
    assert_eq!(memcpy(&mut f, &*rig.mem), 3, "halted");
    assert_eq!(chan_read(&mut f, CHANERR) as u32, CHANERR_WRITE_DATA);
    let (records, overflow) = vtd.unit().take_faults();
    assert!(!overflow);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!((records[0].addr, records[0].write), (DST, true));
    assert_eq!(logged.lock().unwrap().len(), 1);
    assert_eq!(logged.lock().unwrap()[0].iova, DST);
}
