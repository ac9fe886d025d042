//! The guest's context descriptors as the SMMU reads them (Arm IHI 0070 §5.4 "Context
//! Descriptor", §3.3.2 and §5.2's S1Fmt/S1CDMax/S1DSS): which CD a request uses, the CD
//! fetched from a linear or 2-level table in guest memory through stage 2, its checks
//! (`C_BAD_CD`), and the stage-1 walk from its TTB0.

use super::regs::SmmuConfig;
use super::spec::{cd, evt, get, ste};
use crate::iommu::NO_PASID;
use crate::iommu::translate::{FaultReason, Stage};
use uiommu_pt::{Access, ArmLpae, GuestMemory, GuestTables, RootWalk, Translation, WalkFault};

fn bad(event: u8) -> FaultReason {
    FaultReason::BadConfig { event }
}

/// The CD index a request of `pasid` uses under a stage-1 STE, or `None` if stage 1 is
/// bypassed for it (S1DSS bypass). STE faults are `C_BAD_STE` (S1CDMax beyond SSIDSIZE, a
/// reserved S1Fmt or S1DSS, a 2-level table without IDR0.CD2L); a substream beyond S1CDMax
/// is `C_BAD_SUBSTREAMID`; a request without one under S1DSS terminate is
/// `F_STREAM_DISABLED`.
pub fn substream(
    cfg: &SmmuConfig,
    words: [u64; 2],
    pasid: u32,
) -> Result<Option<u32>, FaultReason> {
    let cdmax = get(words[0], ste::S1CDMAX) as u32;
    let fmt = get(words[0], ste::S1FMT);
    if cdmax > cfg.ssid_bits() {
        return Err(bad(evt::C_BAD_STE));
    }
    if cdmax != 0 && (fmt == 3 || (fmt != 0 && !cfg.cd2l())) {
        return Err(bad(evt::C_BAD_STE));
    }
    if pasid != NO_PASID {
        if cdmax == 0 || pasid >> cdmax != 0 {
            return Err(bad(evt::C_BAD_SUBSTREAMID));
        }
        return Ok(Some(pasid));
    }
    if cdmax == 0 {
        return Ok(Some(0));
    }
    match get(words[1], ste::S1DSS) {
        0 => Err(bad(evt::F_STREAM_DISABLED)),
        1 => Ok(None),
        2 => Ok(Some(0)),
        _ => Err(bad(evt::C_BAD_STE)),
    }
}

/// A valid CD, as the walk uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cd {
    /// ASID (the upper 8 bits ignored by an SMMU with 8-bit ASIDs).
    pub asid: u16,
    /// TTB0.
    pub ttb0: u64,
    /// log2 of the TG0 granule.
    pub granule: u32,
    /// Input address bits, `64 - T0SZ`.
    pub va_lg2: u32,
    /// EPD0: TTB0 walks disabled, every address faults.
    pub epd0: bool,
}

/// Reads CD `ssid` of the STE whose word 0 is `ste0` from guest memory. A table read that
/// stage 2 does not translate is a stage-2 fault on the fetch; an invalid level-1
/// descriptor is `C_BAD_SUBSTREAMID`; an invalid or illegal CD is `C_BAD_CD`.
pub fn fetch<G: GuestMemory>(
    cfg: &SmmuConfig,
    ste0: u64,
    ssid: u32,
    guest: &G,
) -> Result<Cd, FaultReason> {
    let read = |ipa: u64| {
        guest.read_u64(ipa).map_err(|f| FaultReason::TableAccess {
            stage: Stage::Second,
            addr: f.addr,
        })
    };
    let base = ste0 & ste::S1CTXPTR;
    let cdmax = get(ste0, ste::S1CDMAX);
    let ssid = u64::from(ssid);
    let addr = match get(ste0, ste::S1FMT) {
        fmt @ (1 | 2) if cdmax != 0 => {
            // 2-level: 4 KiB leaf tables hold 64 CDs, 64 KiB ones 1024.
            let split = if fmt == 1 { 6 } else { 10 };
            let l1 = read(base + (ssid >> split) * 8)?;
            if l1 & cd::L1_V == 0 {
                return Err(bad(evt::C_BAD_SUBSTREAMID));
            }
            (l1 & cd::L1_L2PTR) + (ssid & ((1 << split) - 1)) * cd::SIZE
        }
        _ => base + ssid * cd::SIZE,
    };
    let w0 = read(addr)?;
    let w1 = read(addr + 8)?;
    decode(cfg, w0, w1).ok_or(bad(evt::C_BAD_CD))
}

/// The checks of a fetched CD (§5.4.1 "CD notes", the ILLEGAL cases this model knows):
/// V set, AArch64 tables, little-endian walks where only those exist, a supported TG0, a
/// T0SZ from 16 to 39.
fn decode(cfg: &SmmuConfig, w0: u64, w1: u64) -> Option<Cd> {
    if w0 & cd::V == 0 || w0 & cd::AA64 == 0 {
        return None;
    }
    if w0 & cd::ENDI != 0 {
        return None;
    }
    let granule = match get(w0, cd::TG0) {
        0 => 12,
        1 => 16,
        2 => 14,
        _ => return None,
    };
    if !cfg.granule(granule) || !cfg.tt_le() {
        return None;
    }
    let t0sz = get(w0, cd::T0SZ) as u32;
    if !(16..=39).contains(&t0sz) {
        return None;
    }
    let asid_mask = if cfg.asid_bits() == 16 { 0xffff } else { 0xff };
    Some(Cd {
        asid: get(w0, cd::ASID) as u16 & asid_mask,
        ttb0: w1 & cd::TTB0,
        granule,
        va_lg2: 64 - t0sz,
        epd0: w0 & cd::EPD0 != 0,
    })
}

fn walk_granule<const G: u32, M: GuestMemory>(
    guest: M,
    root: u64,
    va_lg2: u32,
    iova: u64,
    access: Access,
) -> Result<Translation, WalkFault> {
    let cfg = ArmLpae::<G, false>::config(va_lg2);
    let table = RootWalk::new(
        ArmLpae::<G, false>::default(),
        GuestTables { mem: guest },
        root,
        cfg,
    )
    .map_err(|_| WalkFault::OutOfRange)?;
    table.translate(iova, access)
}

impl Cd {
    /// The stage-1 walk from TTB0: the IPA of `iova` and the page size. With EPD0 every
    /// address faults as a translation fault.
    pub fn walk<G: GuestMemory>(
        &self,
        guest: &G,
        iova: u64,
        access: Access,
    ) -> Result<(u64, u32), WalkFault> {
        if self.epd0 {
            return Err(WalkFault::OutOfRange);
        }
        let t = match self.granule {
            12 => walk_granule::<12, _>(guest, self.ttb0, self.va_lg2, iova, access),
            14 => walk_granule::<14, _>(guest, self.ttb0, self.va_lg2, iova, access),
            _ => walk_granule::<16, _>(guest, self.ttb0, self.va_lg2, iova, access),
        }?;
        Ok((t.phys, t.page_lg2))
    }
}
