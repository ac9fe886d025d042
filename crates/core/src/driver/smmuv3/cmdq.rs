//! Guest CMDQ commands through `IOMMU_HWPT_INVALIDATE` on a vSMMU
//! (`arm_vsmmu_cache_invalidate`, `arm_vsmmu_validate_user_cmd`,
//! `arm_vsmmu_convert_user_cmd`; Arm IHI 0070 §4.4 "TLB invalidation", §4.3 "Configuration
//! structure invalidation", §4.5 "ATS and PRI").
//!
//! Every command is checked against the fields its opcode may carry on this SMMU (any other
//! bit, or another opcode, is `EIO`); TLBIs get the vSMMU's VMID, `CFGI_CD*`/`ATC_INV` the
//! physical stream ID of the vDEVICE named by their vSID (`EIO` without one). Commands run
//! in batches of `CMDQ_BATCH_ENTRIES - 1`: a command that fails ends the call, and the
//! commands converted since the last issued batch are counted as handled but not run — as
//! the kernel does.

use super::SmmuMaster;
use super::nested::SmmuNested;
use super::nested_caches::NestedCaches;
use super::regs::SmmuConfig;
use super::spec::{cmd, get, put};
use super::unit::lock;
use super::vsmmu_shared::VsmmuShared;
use crate::driver::skeleton::invalidate::all_entries;
use crate::iommu::PhysDevice;
use std::sync::Arc;
use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::iommufd::{
    IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, IommuViommuArmSmmuv3Invalidate,
};
use uiommu_uapi::{Errno, UserMemory};

/// A converted command, ready to issue.
#[derive(Debug)]
enum Command {
    /// `TLBI_NH_ALL` (also what `TLBI_NSNH_ALL` becomes) of the vSMMU's VMID.
    NhAll,
    /// `TLBI_NH_ASID`.
    NhAsid(u16),
    /// `TLBI_NH_VA` (an ASID) or `TLBI_NH_VAA` (none) over `first..=last`.
    NhVa {
        asid: Option<u16>,
        first: u64,
        last: u64,
    },
    /// `ATC_INV`: there is no ATC in this model.
    AtcInv,
    /// `CFGI_CD` (a CD) or `CFGI_CD_ALL` (none) of a physical stream.
    CfgiCd {
        dev: Arc<PhysDevice>,
        ssid: Option<u32>,
    },
}

/// `arm_vsmmu_validate_range`: `EIO` for the reserved range encodings.
fn validate_range(cfg: &SmmuConfig, w: [u64; 2]) -> Result<()> {
    let range = w[0] & (cmd::TLBI_NUM | cmd::TLBI_SCALE) != 0;
    let ttl = get(w[1], cmd::TLBI_TTL);
    let tg = get(w[1], cmd::TLBI_TG);
    let ok = if tg == 0 {
        !range && ttl == 0
    } else {
        !(tg == 2 && ttl == 1 && !cfg.ds()) && (range || ttl != 0)
    };
    if ok { Ok(()) } else { Err(Errno::EIO) }
}

/// `arm_vsmmu_validate_user_cmd`: the fields each opcode may carry on this SMMU.
fn validate(cfg: &SmmuConfig, w: [u64; 2]) -> Result<()> {
    let mut allowed = [cmd::OP, 0];
    let asid = put(cmd::TLBI_ASID, (1 << cfg.asid_bits()) - 1);
    let op = w[0] & cmd::OP;
    match op {
        cmd::OP_TLBI_NSNH_ALL => {}
        cmd::OP_TLBI_NH_VA | cmd::OP_TLBI_NH_VAA => {
            if op == cmd::OP_TLBI_NH_VA {
                allowed[0] |= asid;
            }
            if cfg.range_inv() {
                validate_range(cfg, w)?;
                allowed[0] |= cmd::TLBI_NUM | cmd::TLBI_SCALE;
                allowed[1] |= cmd::TLBI_TG | cmd::TLBI_TTL;
                if !cfg.ds() {
                    allowed[0] &= !put(cmd::TLBI_SCALE, 1 << 5);
                }
            }
            allowed[0] |= cmd::TLBI_VMID;
            allowed[1] |= cmd::TLBI_LEAF | cmd::TLBI_VA;
        }
        cmd::OP_TLBI_NH_ASID | cmd::OP_TLBI_NH_ALL => {
            if op == cmd::OP_TLBI_NH_ASID {
                allowed[0] |= asid;
            }
            allowed[0] |= cmd::TLBI_VMID;
        }
        cmd::OP_ATC_INV => {
            if !cfg.ats() || get(w[1], cmd::ATC_SIZE) > cmd::ATC_SIZE_ALL {
                return Err(Errno::EIO);
            }
            if cfg.ssid_bits() != 0 {
                allowed[0] |= cmd::SSV | cmd::ATC_SSID | cmd::ATC_GLOBAL;
            }
            allowed[0] |= cmd::ATC_SID;
            allowed[1] |= cmd::ATC_SIZE | cmd::ATC_ADDR;
        }
        cmd::OP_CFGI_CD | cmd::OP_CFGI_CD_ALL => {
            if op == cmd::OP_CFGI_CD {
                if cfg.ssid_bits() != 0 {
                    allowed[0] |= cmd::CFGI_SSID;
                }
                allowed[1] |= cmd::CFGI_LEAF;
            }
            allowed[0] |= cmd::CFGI_SID;
        }
        _ => return Err(Errno::EIO),
    }
    if w[0] & !allowed[0] != 0 || w[1] & !allowed[1] != 0 {
        return Err(Errno::EIO);
    }
    Ok(())
}

/// The range a `TLBI_NH_VA{A}` covers: one address, or with TG set
/// `(NUM + 1) * 2^SCALE` granules from it (§4.4.1 "Range invalidation").
fn va_range(w: [u64; 2]) -> (u64, u64) {
    let first = w[1] & cmd::TLBI_VA;
    let granule_lg2 = match get(w[1], cmd::TLBI_TG) {
        0 => return (first, first),
        1 => 12,
        2 => 14,
        _ => 16,
    };
    let num = get(w[0], cmd::TLBI_NUM) + 1;
    let shift = get(w[0], cmd::TLBI_SCALE) as u32 + granule_lg2;
    let last = 1u64
        .checked_shl(shift)
        .and_then(|g| num.checked_mul(g))
        .and_then(|len| first.checked_add(len - 1));
    (first, last.unwrap_or(u64::MAX))
}

/// `arm_vsmmu_convert_user_cmd`: checks one command and binds it to the physical SMMU.
fn convert(vsmmu: &VsmmuShared, raw: &IommuViommuArmSmmuv3Invalidate) -> Result<Command> {
    let w = raw.cmd.map(u64::from_le);
    validate(&vsmmu.unit.config, w)?;
    let asid = get(w[0], cmd::TLBI_ASID) as u16;
    Ok(match w[0] & cmd::OP {
        cmd::OP_TLBI_NSNH_ALL | cmd::OP_TLBI_NH_ALL => Command::NhAll,
        cmd::OP_TLBI_NH_ASID => Command::NhAsid(asid),
        op @ (cmd::OP_TLBI_NH_VA | cmd::OP_TLBI_NH_VAA) => {
            let (first, last) = va_range(w);
            Command::NhVa {
                asid: (op == cmd::OP_TLBI_NH_VA).then_some(asid),
                first,
                last,
            }
        }
        op => {
            let vsid = get(w[0], cmd::CFGI_SID);
            let dev = vsmmu.core.find_dev(vsid).ok_or(Errno::EIO)?;
            match op {
                cmd::OP_ATC_INV => Command::AtcInv,
                cmd::OP_CFGI_CD => Command::CfgiCd {
                    dev,
                    ssid: Some(get(w[0], cmd::CFGI_SSID) as u32),
                },
                _ => Command::CfgiCd { dev, ssid: None },
            }
        }
    })
}

/// The nested domains of the VMID: those over the vSMMU's parent.
fn each_nested(vsmmu: &VsmmuShared, f: impl Fn(&NestedCaches)) {
    let children: Vec<Arc<NestedCaches>> = lock(&vsmmu.parent.hooks.children).clone();
    for c in &children {
        f(c);
    }
}

fn issue(vsmmu: &VsmmuShared, c: Command) {
    match c {
        Command::NhAll => each_nested(vsmmu, NestedCaches::tlbi_all),
        Command::NhAsid(asid) => each_nested(vsmmu, |n| n.tlbi_asid(asid)),
        Command::NhVa { asid, first, last } => {
            each_nested(vsmmu, |n| n.tlbi_range(asid, first, last));
        }
        Command::AtcInv => {}
        Command::CfgiCd { dev, ssid } => {
            let Some(m) = dev.state::<SmmuMaster>() else {
                return;
            };
            if let Some(d) = m.rid_domain() {
                if let Some(n) = d.as_any().downcast_ref::<SmmuNested>() {
                    n.caches.cfgi_cd(ssid);
                }
            }
        }
    }
}

/// `arm_vsmmu_cache_invalidate`: every entry read first (`EINVAL` for a wrong type or no
/// entries, `EFAULT`), then converted and issued in batches. Returns the handled count.
pub fn invalidate(
    vsmmu: &VsmmuShared,
    requests: &UserDataArray,
    mem: &dyn UserMemory,
) -> (u32, Result<()>) {
    let mut batch = Vec::new();
    all_entries(
        requests,
        mem,
        IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
        |i, cmds: &[IommuViommuArmSmmuv3Invalidate]| {
            batch.push(convert(vsmmu, &cmds[i])?);
            if i + 1 == cmds.len() || batch.len() == cmd::BATCH_ENTRIES - 1 {
                for c in batch.drain(..) {
                    issue(vsmmu, c);
                }
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SmmuConfig {
        SmmuConfig::default()
    }

    #[test]
    fn each_opcode_takes_only_its_fields() {
        let c = cfg();
        let nh_va = cmd::OP_TLBI_NH_VA | put(cmd::TLBI_ASID, 5) | put(cmd::TLBI_VMID, 9);
        assert_eq!(validate(&c, [nh_va, 0x1000]), Ok(()));
        assert_eq!(validate(&c, [nh_va | cmd::SSV, 0x1000]), Err(Errno::EIO));
        assert_eq!(
            validate(&c, [nh_va, 0x1000 | 2]),
            Err(Errno::EIO),
            "RES0 bit 1"
        );
        // VAA takes no ASID.
        let vaa = cmd::OP_TLBI_NH_VAA | put(cmd::TLBI_ASID, 5);
        assert_eq!(validate(&c, [vaa, 0]), Err(Errno::EIO));
        assert_eq!(validate(&c, [cmd::OP_TLBI_NSNH_ALL, 0]), Ok(()));
        assert_eq!(
            validate(&c, [cmd::OP_TLBI_NSNH_ALL | put(cmd::TLBI_VMID, 1), 0]),
            Err(Errno::EIO)
        );
        assert_eq!(validate(&c, [cmd::OP_CFGI_STE, 0]), Err(Errno::EIO));
        assert_eq!(validate(&c, [0x28, 0]), Err(Errno::EIO), "TLBI_S12_VMALL");
        // No ATS on this SMMU: ATC_INV is illegal.
        assert_eq!(validate(&c, [cmd::OP_ATC_INV, 0]), Err(Errno::EIO));
        let mut ats = cfg();
        ats.idr[0] |= super::super::regs::idr0::ATS;
        assert_eq!(validate(&ats, [cmd::OP_ATC_INV | cmd::SSV, 52]), Ok(()));
        assert_eq!(validate(&ats, [cmd::OP_ATC_INV, 53]), Err(Errno::EIO));
        let cd = cmd::OP_CFGI_CD | put(cmd::CFGI_SSID, 3) | put(cmd::CFGI_SID, 7);
        assert_eq!(validate(&c, [cd, 1]), Ok(()));
        let cd_all = cmd::OP_CFGI_CD_ALL | put(cmd::CFGI_SID, 7);
        assert_eq!(validate(&c, [cd_all, 0]), Ok(()));
        assert_eq!(
            validate(&c, [cd_all | put(cmd::CFGI_SSID, 3), 0]),
            Err(Errno::EIO)
        );
        assert_eq!(validate(&c, [cd_all, 1]), Err(Errno::EIO), "no Leaf");
    }

    #[test]
    fn asid_width_and_range_fields_follow_the_smmu() {
        let mut c8 = cfg();
        c8.idr[0] &= !super::super::regs::idr0::ASID16;
        let wide = cmd::OP_TLBI_NH_ASID | put(cmd::TLBI_ASID, 0x100);
        assert_eq!(validate(&cfg(), [wide, 0]), Ok(()));
        assert_eq!(validate(&c8, [wide, 0]), Err(Errno::EIO));
        // Range: TG set needs NUM/SCALE or TTL; TG clear forbids them.
        let tg4k = put(cmd::TLBI_TG, 1);
        let num = put(cmd::TLBI_NUM, 3);
        assert_eq!(validate(&cfg(), [cmd::OP_TLBI_NH_VAA | num, tg4k]), Ok(()));
        assert_eq!(
            validate(&cfg(), [cmd::OP_TLBI_NH_VAA, tg4k]),
            Err(Errno::EIO)
        );
        assert_eq!(
            validate(&cfg(), [cmd::OP_TLBI_NH_VAA | num, 0]),
            Err(Errno::EIO)
        );
        // TTL 1 with 16K needs DS; SCALE bit 5 needs DS.
        let tg16k_ttl1 = put(cmd::TLBI_TG, 2) | put(cmd::TLBI_TTL, 1);
        assert_eq!(
            validate(&cfg(), [cmd::OP_TLBI_NH_VAA, tg16k_ttl1]),
            Err(Errno::EIO)
        );
        let scale32 = put(cmd::TLBI_SCALE, 32);
        assert_eq!(
            validate(&cfg(), [cmd::OP_TLBI_NH_VAA | scale32, tg4k]),
            Err(Errno::EIO)
        );
        // Without range invalidation the fields are not allowed at all.
        let mut noril = cfg();
        noril.idr[3] = 0;
        assert_eq!(
            validate(&noril, [cmd::OP_TLBI_NH_VAA | num, tg4k]),
            Err(Errno::EIO)
        );
        assert_eq!(validate(&noril, [cmd::OP_TLBI_NH_VAA, 0x5000]), Ok(()));
    }

    #[test]
    fn ranges_cover_num_plus_one_times_two_to_the_scale_granules() {
        assert_eq!(va_range([0, 0x7000]), (0x7000, 0x7000));
        let w0 = put(cmd::TLBI_NUM, 3) | put(cmd::TLBI_SCALE, 1);
        assert_eq!(
            va_range([w0, 0x10000 | put(cmd::TLBI_TG, 1)]),
            (0x10000, 0x10000 + 8 * 4096 - 1)
        );
        assert_eq!(
            va_range([put(cmd::TLBI_SCALE, 63), put(cmd::TLBI_TG, 3)]).1,
            u64::MAX
        );
    }
}
