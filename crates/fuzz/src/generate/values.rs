//! The values of single fields: what a field's C name says it holds (a size, an object ID,
//! an IOVA, a length, a user pointer, flags, a reserved word...), drawn mostly valid and often
//! at an edge; and a struct's length and place.

use super::Gen;
use crate::call::{ArgPlace, ObjKind, Region, Val};
use crate::spec::Command;
use crate::world::PAGE;
use rand::Rng;
use uiommu_uapi::layout::FieldLayout;

/// What a field holds, by its C name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Size,
    Id,
    Fd,
    Iova,
    Len,
    Ptr,
    Flags,
    Reserved,
    Count,
    PageSize,
    Out,
    /// The length of driver data or of one array entry.
    DataLen,
    /// A data or object type: the selftest's and the hardware models' values.
    Type,
    Any,
}

/// Type values the commands know: none, VT-d, SMMUv3, AMD, and the selftest's.
const TYPES: [u64; 8] = [0, 1, 2, 3, 0xdead, 0xdead_beef, 0xbeef_beef, 0xdad_beef];

pub(super) fn kind(name: &str, offset: usize) -> Kind {
    let n = name.rsplit('.').next().unwrap_or(name);
    match n {
        "size" | "argsz" if offset == 0 => Kind::Size,
        "flags" | "dev_flags" | "open_flags" => Kind::Flags,
        "page_size" | "pgsize" => Kind::PageSize,
        "user_va" | "uptr" | "vaddr" | "data" | "allowed_iovas" | "data_uptr" | "addr" => Kind::Ptr,
        "data_len" | "entry_len" | "out_data_len" => Kind::DataLen,
        "length" | "size" | "len" => Kind::Len,
        _ if n.starts_with("__") => Kind::Reserved,
        _ if n.ends_with("_fd") || n == "fd" => Kind::Fd,
        _ if n.starts_with("out_") => Kind::Out,
        _ if n.contains("iova") || n == "start" || n == "base_addr" => Kind::Iova,
        _ if n.contains("uptr") || n.ends_with("_ptr") => Kind::Ptr,
        _ if n.starts_with("num")
            || n.ends_with("_num")
            || matches!(n, "pasid" | "refs" | "option_id" | "op") =>
        {
            Kind::Count
        }
        _ if n.ends_with("id") => Kind::Id,
        "type" | "data_type" => Kind::Type,
        _ => Kind::Any,
    }
}

/// The kind of object a field names, where its name says.
pub(super) fn obj_kind(name: &str) -> Option<ObjKind> {
    Some(match name.rsplit('.').next().unwrap_or(name) {
        "ioas_id" | "src_ioas_id" | "dst_ioas_id" | "object_id" => ObjKind::Ioas,
        "pt_id" => ObjKind::Pt,
        "hwpt_id" => ObjKind::Hwpt,
        "dev_id" => ObjKind::Device,
        "viommu_id" => ObjKind::Viommu,
        "vdevice_id" => ObjKind::Vdevice,
        "fault_id" => ObjKind::Fault,
        _ => return None,
    })
}

/// What the `id` of an `IOMMU_TEST_CMD` operation names.
pub(super) enum TestId {
    Obj(ObjKind),
    Fd,
}

pub(super) fn test_id(op: u32) -> Option<TestId> {
    Some(match op {
        1 | 5 => TestId::Obj(ObjKind::Ioas),
        2 | 12 => TestId::Obj(ObjKind::Pt),
        3 | 13 | 14 => TestId::Obj(ObjKind::Hwpt),
        6 | 7 | 8 | 11 => TestId::Fd,
        10 | 18..=21 => TestId::Obj(ObjKind::Stdev),
        16 => TestId::Obj(ObjKind::Device),
        _ => return None,
    })
}

/// IOVAs at page, 32-bit, aperture and address-space edges.
const IOVA_EDGES: [u64; 14] = [
    0,
    PAGE,
    0x10_0000,
    0x1_0000_0000 - PAGE,
    0x1_0000_0000,
    (1 << 39) - PAGE,
    (1 << 47) - PAGE,
    1 << 48,
    (1 << 57) - PAGE,
    1 << 63,
    u64::MAX - PAGE + 1,
    u64::MAX,
    0xffff_ffff_ffff_c000,
    PAGE - 1,
];

const LEN_EDGES: [u64; 9] = [
    0,
    1,
    PAGE - 1,
    PAGE + 1,
    u64::MAX,
    1 << 32,
    1 << 40,
    0x20_0000,
    3,
];

impl Gen {
    pub(super) fn one_in(&mut self, n: u32) -> bool {
        self.rng.random_ratio(1, n)
    }

    pub(super) fn small(&mut self, n: u8) -> u8 {
        self.rng.random_range(0..n)
    }

    pub(super) fn id(&mut self, kind: Option<ObjKind>) -> Val {
        if let (Some(k), true) = (kind, self.clean) {
            return Val::Obj(k, self.small(4));
        }
        match self.rng.random_range(0..20) {
            0..=11 if kind.is_some() => Val::Obj(kind.unwrap_or(ObjKind::Pt), self.small(4)),
            0..=13 => Val::Id(self.small(8)),
            14..=16 => Val::Lit(self.rng.random_range(0..24)),
            17 => Val::Lit(0),
            18 => Val::Lit(u64::from(u32::MAX)),
            _ => Val::Lit(u64::from(self.rng.random::<u32>())),
        }
    }

    pub(super) fn iova(&mut self) -> Val {
        match self.rng.random_range(0..10) {
            0..=3 => Val::AreaIova(self.small(8), self.rng.random_range(-2..4)),
            4..=6 => Val::Lit(IOVA_EDGES[self.rng.random_range(0..IOVA_EDGES.len())]),
            7 | 8 => Val::Lit(self.rng.random_range(0..256) * PAGE),
            _ => Val::Lit(self.rng.random()),
        }
    }

    pub(super) fn len(&mut self) -> Val {
        match self.rng.random_range(0..10) {
            0..=4 => Val::Lit(self.rng.random_range(1..=16) * PAGE),
            5 | 6 => Val::Lit(LEN_EDGES[self.rng.random_range(0..LEN_EDGES.len())]),
            7 | 8 => Val::AreaLen(self.small(8)),
            _ => Val::Lit(self.rng.random_range(0..(80 * PAGE))),
        }
    }

    pub(super) fn ptr(&mut self) -> Val {
        let pages = |g: &mut Self, n: u64| g.rng.random_range(0..n) * PAGE;
        match self.rng.random_range(0..40) {
            0..=21 => Val::Ptr(Region::Rw, pages(self, 64)),
            22..=25 => Val::Ptr(Region::Ro, pages(self, 16)),
            26..=28 => Val::Ptr(Region::None, pages(self, 4)),
            29 | 30 => Val::Ptr(Region::Edge, PAGE - 8 * self.rng.random_range(1..4)),
            31..=35 => Val::Ptr(Region::Buf, 8 * self.rng.random_range(0..64)),
            36 => Val::Ptr(Region::Null, 0),
            37 => Val::Ptr(Region::Kernel, 0),
            _ => Val::Ptr(Region::Rw, self.rng.random_range(0..64 * PAGE)),
        }
    }

    pub(super) fn flags(&mut self, command: &str) -> Val {
        let bit = |g: &mut Self| 1u64 << g.rng.random_range(0..8);
        match self.rng.random_range(0..20) {
            0..=13
                if matches!(
                    command,
                    "IOMMU_IOAS_MAP" | "IOMMU_IOAS_COPY" | "IOMMU_IOAS_MAP_FILE"
                ) =>
            {
                Val::Lit([7, 6, 3, 5, 1, 7][self.small(6) as usize])
            }
            0..=13 if command == "VFIO_IOMMU_MAP_DMA" => Val::Lit(3),
            // NEST_PARENT, DIRTY_TRACKING, PASID; enable dirty tracking.
            0..=7 if command == "IOMMU_HWPT_ALLOC" => {
                Val::Lit([0, 1, 2, 8, 3][self.small(5) as usize])
            }
            0..=9 => Val::Lit(0),
            _ if self.clean => Val::Lit(self.rng.random_range(0..3)),
            12..=15 => Val::Lit(bit(self)),
            16..=18 => Val::Lit(self.rng.random_range(0..16)),
            _ => Val::Lit(u64::from(self.rng.random::<u32>())),
        }
    }

    pub(super) fn value(&mut self, command: &str, f: &FieldLayout) -> Val {
        if let Some(k) = obj_kind(f.c_path) {
            return self.id(Some(k));
        }
        match kind(f.c_path, f.offset) {
            Kind::Size | Kind::Reserved | Kind::Out => {
                Val::Lit(if !self.clean && self.one_in(12) {
                    self.rng.random()
                } else {
                    0
                })
            }
            Kind::Id => self.id(None),
            Kind::Fd => match self.rng.random_range(0..4) {
                0 | 1 => Val::Fd(self.small(4)),
                2 => Val::Lit(u64::MAX),
                _ => Val::Lit(self.rng.random_range(0..2000)),
            },
            Kind::Iova => self.iova(),
            Kind::Len => self.len(),
            Kind::Ptr => self.ptr(),
            Kind::Flags => self.flags(command),
            Kind::Count => Val::Lit(match self.rng.random_range(0..6) {
                0 => 0,
                5 => self.rng.random(),
                _ => self.rng.random_range(1..8),
            }),
            Kind::PageSize => {
                Val::Lit([PAGE, PAGE, 0x20_0000, 0, 1, 3 * PAGE][self.small(6) as usize])
            }
            Kind::DataLen => Val::Lit(match self.rng.random_range(0..10) {
                0 if !self.clean => self.rng.random::<u32>().into(),
                0..=3 => 0,
                _ => [4, 8, 16, 24, 32, 64][self.small(6) as usize],
            }),
            Kind::Type => Val::Lit(match self.rng.random_range(0..10) {
                0 if !self.clean => self.rng.random(),
                1..=4 => 0,
                _ => TYPES[self.rng.random_range(0..TYPES.len())],
            }),
            Kind::Any => Val::Lit(match self.rng.random_range(0..4) {
                0 => 0,
                1 => self.rng.random_range(1..8),
                2 => self.rng.random_range(0..32),
                _ => self.rng.random(),
            }),
        }
    }

    /// The struct's length: exact, 0, just under the minimum, the minimum, or larger with a
    /// zero or non-zero tail.
    pub(super) fn length(&mut self, c: &Command) -> (u16, u8) {
        let (size, min) = (c.size as u16, c.min_size as u16);
        if self.clean {
            return (size, 0);
        }
        match self.rng.random_range(0..24) {
            0 => (0, 0),
            1 => (min.saturating_sub(1), 0),
            2 | 3 => (min, 0),
            4 => (size + 8, 0),
            5 => (size + 64, 0),
            6 => (size + 8, self.rng.random_range(1..=255)),
            7 => (size + 1, 1),
            _ => (size, 0),
        }
    }

    pub(super) fn arg_place(&mut self) -> ArgPlace {
        if self.clean {
            return ArgPlace::Rw;
        }
        match self.rng.random_range(0..40) {
            0 => ArgPlace::None,
            1 | 2 => ArgPlace::Ro,
            3 => ArgPlace::Edge,
            4 => ArgPlace::EdgeRo,
            _ => ArgPlace::Rw,
        }
    }
}
