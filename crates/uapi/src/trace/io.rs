//! The lines of the calls beyond `ioctl`, `open` and `pread64`/`pwrite64`: a queue file's
//! `read`/`write` with its records decoded, vectored region I/O (`mmap` and `mremap` are
//! [`super::mm`]'s), and the events an IOMMU model raises (`--- IOMMU fault {…} ---`, in the shape strace gives a signal).
//!
//! ```text
//! [pid 4242] read(7, [{flags=IOMMU_PGFAULT_FLAGS_LAST_PAGE, dev_id=1, pasid=0, grpid=1, perm=IOMMU_PGFAULT_PERM_WRITE, __reserved=0, addr=0x1000, length=0, cookie=1}], 64) = 32 <0.000004>
//! [pid 4242] preadv(5, [{iov_base=0x7ffd2a1c, iov_len=4}], 1, BAR0+0x4) = 4 <0.000003>
//! [pid 4242] mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 5, BAR0+0x0) = 0x7f2a4c000000 <0.000020>
//! [pid 4242] --- IOMMU page request {flags=IOMMU_PGFAULT_FLAGS_LAST_PAGE, …} ---
//! ```

use super::{Done, VFIO_PCI_OFFSET_SHIFT, finish, outcome, prefix, show};
use crate::catalog;
use crate::iommufd::IOMMU_VEVENTQ_FLAG_LOST_EVENTS;
use std::fmt::Write as _;

/// Most records, iovecs or text bytes a line shows; `...` marks the rest.
pub const MAX_SHOWN: usize = 16;

/// What the bytes a file's `read` fills or its `write` takes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// A fault queue's: `struct iommu_hwpt_pgfault` read, `struct iommu_hwpt_page_response`
    /// written.
    Fault,
    /// A vEVENTQ's of this `IOMMU_VEVENTQ_TYPE_*`: a `struct iommufd_vevent_header`, then
    /// the type's event data unless the header marks lost events.
    Veventq(u32),
    /// Text, as a `fail-nth` file's, shown as strace shows a string.
    Text,
    /// Anything else: the buffer's address.
    Opaque,
}

/// A `read` or `write` of `count` bytes at `buf` on a file whose bytes are `payload`.
#[derive(Debug, Clone, Copy)]
pub struct FileIo<'a> {
    pub fd: i32,
    pub write: bool,
    pub payload: Payload,
    pub buf: u64,
    pub count: usize,
    /// The bytes the call moved (the buffer as written; as read, up to the result), if they
    /// could be read.
    pub data: Option<&'a [u8]>,
}

impl FileIo<'_> {
    /// The line.
    pub fn line(&self, done: &Done) -> String {
        let call = if self.write { "write" } else { "read" };
        let shown = self.data.filter(|_| self.write || done.result.is_ok());
        let buf = match (shown, self.payload) {
            (Some(d), Payload::Text) => text(d),
            (Some(d), Payload::Fault | Payload::Veventq(_)) => records(self.payload, self.write, d),
            _ => format!("{:#x}", self.buf),
        };
        let mut line = format!("{}{call}({}, {buf}, {})", prefix(done), self.fd, self.count);
        outcome(&mut line, done.result);
        finish(line, done)
    }
}

/// `{field=value, …}` of the struct `c_struct` in `bytes`, its flags by name.
pub fn record(c_struct: &str, bytes: &[u8]) -> String {
    match catalog::layout(c_struct) {
        Some(l) => format!("{{{}}}", show(Some(c_struct), l.fields, bytes, |_| true)),
        None => format!("{{{}}}", hex(bytes)),
    }
}

/// The records in `data`: `[{…}, {…}]`.
fn records(payload: Payload, write: bool, data: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if out.len() == MAX_SHOWN {
            out.push("...".to_string());
            break;
        }
        let (shown, used) = match payload {
            Payload::Veventq(ty) => vevent(ty, rest),
            _ => {
                let name = match write {
                    true => "iommu_hwpt_page_response",
                    false => "iommu_hwpt_pgfault",
                };
                let size = catalog::layout(name).map_or(rest.len(), |l| l.size);
                let used = size.min(rest.len());
                (record(name, &rest[..used]), used)
            }
        };
        out.push(shown);
        rest = &rest[used.max(1).min(rest.len())..];
    }
    format!("[{}]", out.join(", "))
}

/// One event at the start of `data`: its header, and the data the type's struct names
/// (`data={…}`; the rest in hex for a type without one), and how many bytes it took.
fn vevent(veventq_type: u32, data: &[u8]) -> (String, usize) {
    const HEADER: &str = "iommufd_vevent_header";
    let size = catalog::layout(HEADER)
        .map_or(8, |l| l.size)
        .min(data.len());
    let header = &data[..size];
    let mut shown = record(HEADER, header);
    let flags = header
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_ne_bytes);
    if flags & IOMMU_VEVENTQ_FLAG_LOST_EVENTS != 0 || size == data.len() {
        return (shown, size);
    }
    let event = catalog::vevent_struct(veventq_type).and_then(catalog::layout);
    let len = event.map_or(data.len() - size, |l| l.size.min(data.len() - size));
    let body = &data[size..size + len];
    // A short event (a read cut short) in hex.
    let event = event.filter(|l| l.size == len);
    shown.pop();
    let _ = match event {
        Some(l) => write!(shown, ", data={}}}", record(l.c_name, body)),
        None => write!(shown, ", data=0x{}}}", hex(body)),
    };
    (shown, size + len)
}

/// `bytes` as strace shows a string: quoted, escaped, at most [`MAX_SHOWN`] bytes.
fn text(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes.iter().take(MAX_SHOWN) {
        match b {
            b'\n' => out += "\\n",
            b'\t' => out += "\\t",
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:o}");
            }
        }
    }
    out.push('"');
    if bytes.len() > MAX_SHOWN {
        out += "...";
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|x| format!("{x:02x}")).collect()
}

/// A vfio-pci device file's offset as the region by name and the offset in it
/// (`BAR0+0x98`; `VFIO_PCI_OFFSET_SHIFT` layout).
pub fn region(pos: u64) -> String {
    let index = pos >> VFIO_PCI_OFFSET_SHIFT;
    let offset = pos & ((1 << VFIO_PCI_OFFSET_SHIFT) - 1);
    let name = match index {
        0..=5 => format!("BAR{index}"),
        6 => "ROM".into(),
        7 => "CONFIG".into(),
        8 => "VGA".into(),
        _ => format!("REGION{index}"),
    };
    format!("{name}+{offset:#x}")
}

/// One `struct iovec` of a vectored call, with the value of a register-sized one (8 bytes at
/// most) once known: as written, or as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iovec {
    pub base: u64,
    pub len: u64,
    pub value: Option<u64>,
}

impl Iovec {
    /// The iovecs in `raw`, an array of `struct iovec` (base and length, 8 bytes each).
    pub fn parse(raw: &[u8]) -> Vec<Iovec> {
        let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
        raw.chunks_exact(16)
            .map(|c| Iovec {
                base: word(&c[..8]),
                len: word(&c[8..]),
                value: None,
            })
            .collect()
    }

    /// The value of each register-sized iovec wholly within the first `bytes` bytes the call
    /// moved, read by `read` (address, buffer; `false` if it could not be read).
    pub fn fill(iov: &mut [Iovec], bytes: usize, read: impl Fn(u64, &mut [u8]) -> bool) {
        let mut left = bytes as u64;
        for v in iov {
            if v.len > left {
                break;
            }
            left -= v.len;
            let n = v.len as usize;
            let mut b = [0u8; 8];
            if n <= 8 && read(v.base, &mut b[..n]) {
                v.value = super::RegionIo::value(&b, n);
            }
        }
    }
}

/// A `preadv`/`pwritev` (with `flags`, `preadv2`/`pwritev2`) of a device file: each iovec
/// (a register-sized one's value in place of its address once known, as strace shows a
/// buffer's contents) and the region at `pos` (`None`: the file position, `-1`).
#[derive(Debug, Clone, Copy)]
pub struct Vectored<'a> {
    pub fd: i32,
    pub write: bool,
    /// The iovecs, if they could be read.
    pub iov: Option<&'a [Iovec]>,
    pub iov_addr: u64,
    pub iovcnt: i32,
    pub pos: Option<u64>,
    /// `RWF_*` of the `v2` calls; `None` for `preadv`/`pwritev`.
    pub flags: Option<i32>,
}

impl Vectored<'_> {
    /// The line.
    pub fn line(&self, done: &Done) -> String {
        let call = match (self.write, self.flags.is_some()) {
            (false, false) => "preadv",
            (true, false) => "pwritev",
            (false, true) => "preadv2",
            (true, true) => "pwritev2",
        };
        let iov = match self.iov {
            Some(v) => {
                let mut each: Vec<String> = v
                    .iter()
                    .take(MAX_SHOWN)
                    .map(|v| match v.value {
                        Some(x) => format!("{{iov_base=[{x:#x}], iov_len={}}}", v.len),
                        None => format!("{{iov_base={:#x}, iov_len={}}}", v.base, v.len),
                    })
                    .collect();
                if v.len() > MAX_SHOWN {
                    each.push("...".into());
                }
                format!("[{}]", each.join(", "))
            }
            None => format!("{:#x}", self.iov_addr),
        };
        let pos = self.pos.map_or_else(|| "-1".into(), region);
        let mut line = format!(
            "{}{call}({}, {iov}, {}, {pos}",
            prefix(done),
            self.fd,
            self.iovcnt
        );
        if let Some(f) = self.flags {
            line += ", ";
            line += &bits(f as u64, RWF, "0");
        }
        line += ")";
        outcome(&mut line, done.result);
        finish(line, done)
    }
}

/// `RWF_*` (`include/uapi/linux/fs.h`).
const RWF: &[(u64, &str)] = &[
    (0x1, "RWF_HIPRI"),
    (0x2, "RWF_DSYNC"),
    (0x4, "RWF_SYNC"),
    (0x8, "RWF_NOWAIT"),
    (0x10, "RWF_APPEND"),
    (0x20, "RWF_NOAPPEND"),
    (0x40, "RWF_ATOMIC"),
    (0x80, "RWF_DONTCACHE"),
];

/// `value`'s bits by the names `names` gives them, unnamed ones in hex; `zero` for 0.
pub(super) fn bits(value: u64, names: &[(u64, &str)], zero: &str) -> String {
    if value == 0 {
        return zero.into();
    }
    let mut out: Vec<String> = names
        .iter()
        .filter(|(b, _)| value & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let rest = names.iter().fold(value, |v, (b, _)| v & !b);
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out.join("|")
}

/// The arguments of a read or write this module does not decode, as strace shows them:
/// `FD, BUF, COUNT` and the position if the call takes one (`preadv`'s iovecs and their
/// count in place of the buffer and its size).
pub fn plain_args(fd: i32, buf: u64, count: u64, pos: Option<u64>) -> String {
    match pos {
        Some(p) => format!("{fd}, {buf:#x}, {count}, {p:#x}"),
        None => format!("{fd}, {buf:#x}, {count}"),
    }
}

/// An event a model raised, in the shape strace gives a signal: `--- WHAT {FIELDS} ---`
/// (with `done`'s pid prefix; no result or time).
pub fn event(pid: Option<u32>, what: &str, fields: &str) -> String {
    let p = pid.map_or_else(String::new, |p| format!("[pid {p}] "));
    format!("{p}--- {what} {fields} ---\n")
}
