//! Where each emulated device of a process sits: its PCI address, its IOMMU group and its VFIO
//! cdev index. `uiommu exec --device` reads them from the command line and hands them to the
//! preload library in [`DEVICES_ENV`]; both parse them here.
//!
//! # Grammar
//! One device is `MODEL[,bdf=DDDD:BB:DD.F][,group=N][,cdev=N][,vfs=N]` (hexadecimal address,
//! the domain may be left out; decimal group, cdev index and VF count). [`DEVICES_ENV`] holds
//! the devices separated by `;`, in order.
//!
//! # SR-IOV
//! `vfs=N` makes the device an SR-IOV physical function with TotalVFs `N`
//! ([`DeviceModel::sriov`]: a PCI Express model only). Its `N` virtual functions are
//! placed now, each with its own group and cdev (the defaults below), and exist while
//! `sriov_numvfs` covers them: VF `i` sits at the PF's Routing ID + First VF Offset +
//! `i` × VF Stride (PCIe r6.0 §9.3.3.9–10), which must stay in the PF's slot (at most
//! `7 - F` VFs for a PF at function `F`), so that the default slots stay free. A VF may be
//! written as an item of its own to name its group or cdev:
//! `MODEL,bdf=VF_ADDRESS,physfn=PF_ADDRESS[,group=N][,cdev=N]` (the list [`format_list`]
//! makes writes every VF so).
//!
//! # Defaults
//! - address: `0000:00:SS.0` for the first slot `SS` from [`DEFAULT_SLOT`] (0x10) up that no
//!   device of the list names;
//! - group: one per device, counting down from [`DEFAULT_GROUP_TOP`] (9999) over the numbers no
//!   device names, far above the groups a host numbers from 0 (the launcher also refuses a
//!   number the host's `/sys/kernel/iommu_groups` already has);
//! - cdev: `vfioN` with `N` the lowest index no device names and the host does not have
//!   (the launcher passes the host's `/dev/vfio/devices` to [`parse_on_host`]): a program that
//!   also opens the host's own VFIO devices must not find two `vfio0`.
//!
//! Devices may share a group by naming it; two devices at one address are an error.

use std::fmt;
use std::str::FromStr;
use uiommu_devices::{DEVICE_MODELS, DeviceModel, device_model};

/// The environment variable that lists the devices of a process.
pub const DEVICES_ENV: &str = "UIOMMU_DEVICES";

/// The first slot of bus 0 a device without an address takes.
pub const DEFAULT_SLOT: u8 = 0x10;

/// The group of the first device without one; the next ones count down.
pub const DEFAULT_GROUP_TOP: u32 = 9999;

/// A PCI function's address: domain, bus, device (slot) and function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// PCI domain (segment).
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Device number, 0..32.
    pub device: u8,
    /// Function number, 0..8.
    pub function: u8,
}

impl fmt::Display for Bdf {
    /// The kernel's name of the device (`pci_name`): `DDDD:BB:DD.F`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl FromStr for Bdf {
    type Err = String;

    /// `DDDD:BB:DD.F` or `BB:DD.F` (domain 0), in hexadecimal.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("malformed PCI address {s:?} (expected DDDD:BB:DD.F, hexadecimal)");
        let (rest, function) = s.rsplit_once('.').ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (domain, bus, device) = match parts[..] {
            [d, b, s] => (d, b, s),
            [b, s] => ("0", b, s),
            _ => return Err(bad()),
        };
        let hex = |t: &str, digits: usize| {
            (!t.is_empty() && t.len() <= digits && t.bytes().all(|c| c.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(t, 16).ok())
                .flatten()
                .ok_or_else(bad)
        };
        let bdf = Bdf {
            domain: hex(domain, 4)? as u16,
            bus: hex(bus, 2)? as u8,
            device: hex(device, 2)? as u8,
            function: hex(function, 1)? as u8,
        };
        if bdf.device >= 32 || bdf.function >= 8 {
            return Err(format!(
                "PCI address {s:?} out of range (device 00..1f, function 0..7)"
            ));
        }
        Ok(bdf)
    }
}

/// One emulated device of the process.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Its model.
    pub model: &'static DeviceModel,
    /// Its PCI address.
    pub bdf: Bdf,
    /// Its IOMMU group number (`/dev/vfio/N`, `/sys/kernel/iommu_groups/N`).
    pub group: u32,
    /// Its VFIO cdev index (`/dev/vfio/devices/vfioN`).
    pub cdev: u32,
    /// For an SR-IOV physical function, its TotalVFs; 0 for any other function.
    pub vfs: u16,
    /// For a virtual function, the address of its physical function.
    pub physfn: Option<Bdf>,
}

impl fmt::Display for Placement {
    /// The device in the grammar, every field explicit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},bdf={},group={},cdev={}",
            self.model.name, self.bdf, self.group, self.cdev
        )?;
        if self.vfs > 0 {
            write!(f, ",vfs={}", self.vfs)?;
        }
        if let Some(pf) = self.physfn {
            write!(f, ",physfn={pf}")?;
        }
        Ok(())
    }
}

/// A device as written: what it leaves out gets a default.
struct Request {
    model: &'static DeviceModel,
    bdf: Option<Bdf>,
    group: Option<u32>,
    cdev: Option<u32>,
    vfs: u16,
    physfn: Option<Bdf>,
}

fn parse_one(spec: &str) -> Result<Request, String> {
    let mut fields = spec.split(',');
    let name = fields.next().unwrap_or_default().trim();
    let model = device_model(name).ok_or_else(|| {
        let known: Vec<_> = DEVICE_MODELS.iter().map(|m| m.name).collect();
        format!(
            "unknown device model {name:?} (known: {}; see `uiommu devices`)",
            known.join(", ")
        )
    })?;
    let mut req = Request {
        model,
        bdf: None,
        group: None,
        cdev: None,
        vfs: 0,
        physfn: None,
    };
    for field in fields {
        match field.split_once('=') {
            Some(("bdf", v)) => req.bdf = Some(v.parse()?),
            Some(("group", v)) => {
                let g = v
                    .parse::<u32>()
                    .ok()
                    .filter(|&g| i32::try_from(g).is_ok())
                    .ok_or_else(|| format!("malformed IOMMU group {v:?} (a number 0..2^31)"))?;
                req.group = Some(g);
            }
            Some(("cdev", v)) => {
                let n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| i32::try_from(n).is_ok())
                    .ok_or_else(|| format!("malformed VFIO cdev index {v:?} (a number 0..2^31)"))?;
                req.cdev = Some(n);
            }
            Some(("vfs", v)) => {
                let n = v
                    .parse::<u16>()
                    .map_err(|_| format!("malformed VF count {v:?} (a number 1..7)"))?;
                model.sriov(n)?;
                req.vfs = n;
            }
            Some(("physfn", v)) => req.physfn = Some(v.parse()?),
            _ => {
                return Err(format!(
                    "unknown device option {field:?} in {spec:?} (expected bdf=DDDD:BB:DD.F, group=N, cdev=N, vfs=N or physfn=DDDD:BB:DD.F)"
                ));
            }
        }
    }
    if req.physfn.is_some() && (req.bdf.is_none() || req.vfs > 0) {
        return Err(format!(
            "a VF item names its own address (bdf=) and has no VFs: {spec:?}"
        ));
    }
    Ok(req)
}

/// The devices `specs` describe, one per item, with their defaults filled in.
pub fn parse<'a>(specs: impl IntoIterator<Item = &'a str>) -> Result<Vec<Placement>, String> {
    parse_on_host(specs, &|_| false)
}

/// [`parse`], on a host whose own VFIO cdevs are the indexes `host_cdev` is true of: no
/// default index is one of them.
pub fn parse_on_host<'a>(
    specs: impl IntoIterator<Item = &'a str>,
    host_cdev: &dyn Fn(u32) -> bool,
) -> Result<Vec<Placement>, String> {
    let reqs = specs
        .into_iter()
        .map(parse_one)
        .collect::<Result<Vec<_>, _>>()?;
    let mut named_bdfs: Vec<Bdf> = Vec::new();
    for bdf in reqs.iter().filter_map(|r| r.bdf) {
        if named_bdfs.contains(&bdf) {
            return Err(format!("two devices at PCI address {bdf}"));
        }
        named_bdfs.push(bdf);
    }
    let named_groups: Vec<u32> = reqs.iter().filter_map(|r| r.group).collect();
    let mut named_cdevs: Vec<u32> = Vec::new();
    for n in reqs.iter().filter_map(|r| r.cdev) {
        if named_cdevs.contains(&n) {
            return Err(format!("two devices with VFIO cdev index {n}"));
        }
        named_cdevs.push(n);
    }
    let mut free_cdevs =
        (0..=i32::MAX as u32).filter(|n| !named_cdevs.contains(n) && !host_cdev(*n));
    let mut free_slots = (DEFAULT_SLOT..32).map(|device| Bdf {
        domain: 0,
        bus: 0,
        device,
        function: 0,
    });
    let mut free_groups = (0..=DEFAULT_GROUP_TOP).rev();
    let mut defaults = |r: &Request, bdf: Option<Bdf>| -> Result<Placement, String> {
        let bdf = match bdf {
            Some(b) => b,
            None => free_slots
                .by_ref()
                .find(|b| !named_bdfs.contains(b))
                .ok_or("no free default PCI address left on bus 00; give bdf=")?,
        };
        let group = match r.group {
            Some(g) => g,
            None => free_groups
                .by_ref()
                .find(|g| !named_groups.contains(g))
                .ok_or("no free default IOMMU group left; give group=")?,
        };
        let cdev = match r.cdev {
            Some(n) => n,
            None => free_cdevs
                .next()
                .ok_or("no free VFIO cdev index left; give cdev=")?,
        };
        Ok(Placement {
            model: r.model,
            bdf,
            group,
            cdev,
            vfs: r.vfs,
            physfn: r.physfn,
        })
    };
    let (vf_items, reqs): (Vec<Request>, Vec<Request>) =
        reqs.into_iter().partition(|r| r.physfn.is_some());
    let mut used_vf_items = vec![false; vf_items.len()];
    let mut out = Vec::with_capacity(reqs.len());
    for r in &reqs {
        let pf = defaults(r, r.bdf)?;
        out.push(pf);
        for i in 0..pf.vfs {
            let bdf = vf_address(&pf, i)?;
            let item = vf_items
                .iter()
                .position(|v| v.bdf == Some(bdf) && v.physfn == Some(pf.bdf));
            let vf = match item {
                Some(k) => {
                    used_vf_items[k] = true;
                    if vf_items[k].model.name != pf.model.name {
                        return Err(format!("VF {bdf} is not of its PF's model"));
                    }
                    defaults(&vf_items[k], Some(bdf))?
                }
                None => {
                    if named_bdfs.contains(&bdf) {
                        return Err(format!("two devices at PCI address {bdf}"));
                    }
                    let vf = Request {
                        model: r.model,
                        bdf: Some(bdf),
                        group: None,
                        cdev: None,
                        vfs: 0,
                        physfn: Some(pf.bdf),
                    };
                    defaults(&vf, Some(bdf))?
                }
            };
            out.push(vf);
        }
    }
    if let Some(k) = used_vf_items.iter().position(|used| !used) {
        let v = &vf_items[k];
        return Err(format!(
            "{} is not a VF address of an SR-IOV device at {}",
            v.bdf.unwrap_or(Bdf::default()),
            v.physfn.unwrap_or(Bdf::default())
        ));
    }
    Ok(out)
}

/// The address of VF `i` of the SR-IOV function `pf`: the PF's Routing ID + First VF Offset +
/// `i` × VF Stride (PCIe r6.0 §9.3.3.9–10; `pci_iov_virtfn_devfn`), which must stay in the
/// PF's slot.
fn vf_address(pf: &Placement, i: u16) -> Result<Bdf, String> {
    let decl = pf.model.sriov(pf.vfs)?;
    let function = u32::from(pf.bdf.function)
        + u32::from(decl.first_vf_offset)
        + u32::from(i) * u32::from(decl.vf_stride);
    if function >= 8 {
        return Err(format!(
            "the VFs of the SR-IOV device at {} do not fit in its slot (vfs={} at most {})",
            pf.bdf,
            pf.vfs,
            7 - pf.bdf.function
        ));
    }
    Ok(Bdf {
        function: function as u8,
        ..pf.bdf
    })
}

/// The devices of a [`DEVICES_ENV`] value.
pub fn parse_list(text: &str) -> Result<Vec<Placement>, String> {
    parse(text.split(';').filter(|s| !s.trim().is_empty()))
}

/// The [`DEVICES_ENV`] value of `devices`; [`parse_list`] gives them back.
pub fn format_list(devices: &[Placement]) -> String {
    let items: Vec<String> = devices.iter().map(Placement::to_string).collect();
    items.join(";")
}

#[cfg(test)]
mod tests;
