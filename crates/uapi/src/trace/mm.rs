//! The lines of `mmap` and `mremap` of a traced file, as strace shows them: protections and
//! flags by name, a device file's offset as its region.

use super::io::{bits, region};
use super::{Done, other};
use std::fmt::Write as _;

/// `PROT_*` (`include/uapi/asm-generic/mman-common.h`).
const PROT: &[(u64, &str)] = &[(0x1, "PROT_READ"), (0x2, "PROT_WRITE"), (0x4, "PROT_EXEC")];

/// `MAP_*` beyond the type (`include/uapi/asm-generic/mman-common.h`, x86's and Arm's).
const MAP: &[(u64, &str)] = &[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
];

/// An `mmap` of a traced file: a device file's offset as its region, another's (iommufd's
/// mmap cookie) in hex.
#[derive(Debug, Clone, Copy)]
pub struct Mmap {
    pub addr: u64,
    pub len: u64,
    pub prot: i32,
    pub flags: i32,
    pub fd: i32,
    pub off: u64,
    /// The file is a VFIO device's.
    pub device: bool,
}

impl Mmap {
    /// The line, as strace shows `mmap`: the address it returned in hex.
    pub fn line(&self, done: &Done) -> String {
        let addr = match self.addr {
            0 => "NULL".to_string(),
            a => format!("{a:#x}"),
        };
        let kind = match self.flags & 0xf {
            0x1 => "MAP_SHARED".to_string(),
            0x2 => "MAP_PRIVATE".to_string(),
            0x3 => "MAP_SHARED_VALIDATE".to_string(),
            t => format!("{t:#x}"),
        };
        let rest = (self.flags & !0xf) as u64;
        let flags = match rest {
            0 => kind,
            r => format!("{kind}|{}", bits(r, MAP, "0")),
        };
        let off = match (self.device, self.off) {
            (true, o) => region(o),
            (false, 0) => "0".into(),
            (false, o) => format!("{o:#x}"),
        };
        let args = format!(
            "{addr}, {}, {}, {flags}, {}, {off}",
            self.len,
            bits(self.prot as u64, PROT, "PROT_NONE"),
            self.fd
        );
        other("mmap", &args, true, done)
    }
}

/// `MREMAP_*` (`include/uapi/linux/mman.h`).
const MREMAP: &[(u64, &str)] = &[
    (0x1, "MREMAP_MAYMOVE"),
    (0x2, "MREMAP_FIXED"),
    (0x4, "MREMAP_DONTUNMAP"),
];

/// An `mremap` of a traced mapping (a BAR's): `new_addr` shown with `MREMAP_FIXED` only.
#[derive(Debug, Clone, Copy)]
pub struct Mremap {
    pub old: u64,
    pub old_len: u64,
    pub new_len: u64,
    pub flags: i32,
    pub new_addr: u64,
}

impl Mremap {
    /// The line, the address it returned in hex.
    pub fn line(&self, done: &Done) -> String {
        let mut args = format!(
            "{:#x}, {}, {}, {}",
            self.old,
            self.old_len,
            self.new_len,
            bits(self.flags as u64, MREMAP, "0")
        );
        if self.flags & 0x2 != 0 {
            let _ = write!(args, ", {:#x}", self.new_addr);
        }
        other("mremap", &args, true, done)
    }
}
