//! A sequence of calls and its text form, one line per call, so that a regression case can be
//! read, edited and replayed:
//!
//! ```text
//! model mock
//! node iommu
//! call IOMMU_IOAS_MAP arg=rw len=40 tail=0 0:4=0x28 4:4=0x7 8:4=id0 16:8=ptr:rw+0x1000 24:8=0x4000
//! call VFIO_SET_IOMMU value=0x3
//! ```
//!
//! Values are symbolic where the real number is only known when the call runs (an object ID,
//! an fd, the IOVA of a mapped area, an address in one of the memory regions), so that removing
//! a call while minimising keeps the others meaningful.

use std::fmt::{self, Write as _};

/// A value written into a command struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    /// This number.
    Lit(u64),
    /// The `k`-th live object ID (modulo their number; 0 if there is none).
    Id(u8),
    /// The `k`-th live object of a kind (modulo their number; 0 if there is none).
    Obj(ObjKind, u8),
    /// The `k`-th open fd the context's commands returned (-1 if there is none).
    Fd(u8),
    /// The first IOVA of the `k`-th mapped area over all IOASes, plus `pages` pages.
    AreaIova(u8, i8),
    /// The length of the `k`-th mapped area.
    AreaLen(u8),
    /// An address in a memory region.
    Ptr(Region, u64),
}

/// Kinds of objects a field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjKind {
    Ioas,
    /// A paging or nested HWPT.
    Hwpt,
    /// An IOAS or a HWPT: what an attach takes.
    Pt,
    Device,
    /// A selftest mock device.
    Stdev,
    Viommu,
    Vdevice,
    Fault,
}

impl ObjKind {
    /// Every kind with its name in the text form.
    pub const ALL: [(ObjKind, &'static str); 8] = [
        (ObjKind::Ioas, "ioas"),
        (ObjKind::Hwpt, "hwpt"),
        (ObjKind::Pt, "pt"),
        (ObjKind::Device, "dev"),
        (ObjKind::Stdev, "stdev"),
        (ObjKind::Viommu, "viommu"),
        (ObjKind::Vdevice, "vdev"),
        (ObjKind::Fault, "fault"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("?", |(_, n)| n)
    }
}

/// The user memory regions pointers are drawn from (see [`crate::world`] for the layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Readable and writable pages: map sources and output buffers.
    Rw,
    /// Read-only pages.
    Ro,
    /// Pages that are not there (unmapped, or `PROT_NONE`: both fault).
    None,
    /// One writable page followed by a hole: buffers that straddle into a fault.
    Edge,
    /// A small writable buffer of arrays (IOVA ranges, bitmaps) for commands to read.
    Buf,
    /// Address 0.
    Null,
    /// The kernel half of the address space.
    Kernel,
}

/// Where the command struct itself lives, or the plain value of a command that takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgPlace {
    /// A writable page.
    Rw,
    /// A read-only page: copy-in works, writing results back faults.
    Ro,
    /// Nowhere: copy-in faults.
    None,
    /// Across a writable page into a hole.
    Edge,
    /// Across a writable page into a read-only one.
    EdgeRo,
    /// The argument is this value, not a pointer (`VFIO_SET_IOMMU`, `VFIO_CHECK_EXTENSION`).
    Value(u64),
}

/// One value at `offset` of the struct, `width` bytes wide (1, 2, 4 or 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u16,
    pub width: u8,
    pub val: Val,
}

/// One ioctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Its name in the command table (see [`crate::spec`]).
    pub name: &'static str,
    /// Where the struct is.
    pub arg: ArgPlace,
    /// Bytes of the struct written to memory.
    pub len: u16,
    /// The byte that fills whatever no field covers beyond the command's own struct size.
    pub tail: u8,
    /// The values written, in order.
    pub fields: Vec<Field>,
}

/// A sequence of calls on one fresh context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The IOMMU model (`uiommu_core::driver::MODELS`) the context's devices sit behind.
    pub model: String,
    /// Opened as `/dev/vfio/vfio` rather than `/dev/iommu`.
    pub vfio_node: bool,
    /// The emulated PCI function (`uiommu_devices::registry`) whose VFIO device file the
    /// device commands are made on, behind the same model; none if `None`.
    pub device: Option<String>,
    pub calls: Vec<Call>,
}

impl Region {
    const ALL: [(Region, &'static str); 7] = [
        (Region::Rw, "rw"),
        (Region::Ro, "ro"),
        (Region::None, "none"),
        (Region::Edge, "edge"),
        (Region::Buf, "buf"),
        (Region::Null, "null"),
        (Region::Kernel, "kernel"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("?", |(_, n)| n)
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(r, _)| *r)
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Val::Lit(v) => write!(f, "{v:#x}"),
            Val::Id(k) => write!(f, "id{k}"),
            Val::Obj(kind, k) => write!(f, "{}{k}", kind.name()),
            Val::Fd(k) => write!(f, "fd{k}"),
            Val::AreaIova(k, d) => write!(f, "area{k}{d:+}"),
            Val::AreaLen(k) => write!(f, "alen{k}"),
            Val::Ptr(r, off) => write!(f, "ptr:{}+{off:#x}", r.name()),
        }
    }
}

fn num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl Val {
    fn parse(s: &str) -> Option<Self> {
        if let Some(k) = s.strip_prefix("id") {
            return Some(Val::Id(k.parse().ok()?));
        }
        for (kind, name) in ObjKind::ALL {
            if let Some(k) = s.strip_prefix(name).and_then(|k| k.parse().ok()) {
                return Some(Val::Obj(kind, k));
            }
        }
        if let Some(k) = s.strip_prefix("fd") {
            return Some(Val::Fd(k.parse().ok()?));
        }
        if let Some(k) = s.strip_prefix("alen") {
            return Some(Val::AreaLen(k.parse().ok()?));
        }
        if let Some(rest) = s.strip_prefix("area") {
            let at = rest.find(['+', '-'])?;
            return Some(Val::AreaIova(
                rest[..at].parse().ok()?,
                rest[at..].parse().ok()?,
            ));
        }
        if let Some(rest) = s.strip_prefix("ptr:") {
            let (region, off) = rest.split_once('+')?;
            return Some(Val::Ptr(Region::parse(region)?, num(off)?));
        }
        num(s).map(Val::Lit)
    }
}

impl ArgPlace {
    fn text(self) -> String {
        match self {
            ArgPlace::Rw => "arg=rw".into(),
            ArgPlace::Ro => "arg=ro".into(),
            ArgPlace::None => "arg=none".into(),
            ArgPlace::Edge => "arg=edge".into(),
            ArgPlace::EdgeRo => "arg=edgero".into(),
            ArgPlace::Value(v) => format!("value={v:#x}"),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if let Some(v) = s.strip_prefix("value=") {
            return Some(ArgPlace::Value(num(v)?));
        }
        Some(match s.strip_prefix("arg=")? {
            "rw" => ArgPlace::Rw,
            "ro" => ArgPlace::Ro,
            "none" => ArgPlace::None,
            "edge" => ArgPlace::Edge,
            "edgero" => ArgPlace::EdgeRo,
            _ => return None,
        })
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {} {}", self.name, self.arg.text())?;
        if let ArgPlace::Value(_) = self.arg {
            return Ok(());
        }
        write!(f, " len={} tail={:#x}", self.len, self.tail)?;
        for fl in &self.fields {
            write!(f, " {}:{}={}", fl.offset, fl.width, fl.val)?;
        }
        Ok(())
    }
}

impl Call {
    /// Parses one `call ...` line.
    pub fn parse(line: &str) -> Result<Self, String> {
        let bad = || format!("bad call line: {line}");
        let mut words = line.split_whitespace();
        if words.next() != Some("call") {
            return Err(bad());
        }
        let name = words.next().ok_or_else(bad)?;
        let name = crate::spec::command(name)
            .ok_or_else(|| format!("unknown command {name}"))?
            .name;
        let arg = ArgPlace::parse(words.next().ok_or_else(bad)?).ok_or_else(bad)?;
        let mut call = Call {
            name,
            arg,
            len: 0,
            tail: 0,
            fields: Vec::new(),
        };
        for w in words {
            let (k, v) = w.split_once('=').ok_or_else(bad)?;
            match k {
                "len" => call.len = num(v).ok_or_else(bad)? as u16,
                "tail" => call.tail = num(v).ok_or_else(bad)? as u8,
                _ => {
                    let (off, width) = k.split_once(':').ok_or_else(bad)?;
                    call.fields.push(Field {
                        offset: off.parse().map_err(|_| bad())?,
                        width: width.parse().map_err(|_| bad())?,
                        val: Val::parse(v).ok_or_else(bad)?,
                    });
                }
            }
        }
        Ok(call)
    }
}

impl Sequence {
    /// The text form: `model`, `node`, `device` if there is one, then one `call` line each;
    /// `#` starts a comment.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let node = if self.vfio_node { "vfio" } else { "iommu" };
        let _ = writeln!(s, "model {}\nnode {node}", self.model);
        if let Some(d) = &self.device {
            let _ = writeln!(s, "device {d}");
        }
        for c in &self.calls {
            let _ = writeln!(s, "{c}");
        }
        s
    }

    /// Parses [`Sequence::to_text`]'s form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut seq = Sequence {
            model: "mock".into(),
            vfio_node: false,
            device: None,
            calls: Vec::new(),
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(m) = line.strip_prefix("model ") {
                seq.model = m.trim().into();
            } else if let Some(n) = line.strip_prefix("node ") {
                seq.vfio_node = n.trim() == "vfio";
            } else if let Some(d) = line.strip_prefix("device ") {
                seq.device = Some(d.trim().into());
            } else {
                seq.calls.push(Call::parse(line)?);
            }
        }
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_reads_back_as_written() {
        let seq = Sequence {
            model: "vtd".into(),
            vfio_node: true,
            device: Some("edu".into()),
            calls: vec![
                Call {
                    name: "IOMMU_IOAS_MAP",
                    arg: ArgPlace::EdgeRo,
                    len: 48,
                    tail: 0xa5,
                    fields: vec![
                        Field {
                            offset: 0,
                            width: 4,
                            val: Val::Lit(48),
                        },
                        Field {
                            offset: 8,
                            width: 4,
                            val: Val::Id(3),
                        },
                        Field {
                            offset: 16,
                            width: 8,
                            val: Val::Ptr(Region::Edge, 0xff8),
                        },
                        Field {
                            offset: 24,
                            width: 8,
                            val: Val::AreaIova(2, -1),
                        },
                        Field {
                            offset: 32,
                            width: 8,
                            val: Val::AreaLen(1),
                        },
                        Field {
                            offset: 40,
                            width: 4,
                            val: Val::Fd(0),
                        },
                        Field {
                            offset: 44,
                            width: 4,
                            val: Val::Obj(ObjKind::Stdev, 1),
                        },
                        Field {
                            offset: 48,
                            width: 4,
                            val: Val::Obj(ObjKind::Pt, 0),
                        },
                    ],
                },
                Call {
                    name: "VFIO_SET_IOMMU",
                    arg: ArgPlace::Value(3),
                    len: 0,
                    tail: 0,
                    fields: vec![],
                },
            ],
        };
        let text = seq.to_text();
        assert!(text.contains("24:8=area2-1"), "{text}");
        assert_eq!(Sequence::parse(&text).unwrap(), seq);
        assert!(Sequence::parse("call NO_SUCH_IOCTL arg=rw").is_err());
    }
}
