//! Generating a sequence from a seed: the struct of every call is built field by field from
//! its C layout, each field's value drawn by what its name says it is (a size, an object ID,
//! an IOVA, a length, a user pointer, flags, a reserved word...), mostly valid and often at an
//! edge, so that calls get past their first checks and then fail in the interesting places.

mod device;

use crate::MAX_CALLS;
use crate::call::{ArgPlace, Call, Field, ObjKind, Region, Sequence, Val};
use crate::spec::{self, Command, TEST_OPS, Target};
use crate::world::PAGE;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uiommu_uapi::iommufd::IOMMU_VFIO_IOAS_SET;
use uiommu_uapi::layout::FieldLayout;
use uiommu_uapi::selftest::{
    IOMMU_TEST_OP_MOCK_DOMAIN, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, TEST_CMD_PAYLOAD_OFFSET,
    TEST_CMD_PAYLOAD_SIZE,
};
use uiommu_uapi::vfio::VFIO_TYPE1v2_IOMMU;

/// What a field holds, by its C name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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

fn kind(name: &str, offset: usize) -> Kind {
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
fn obj_kind(name: &str) -> Option<ObjKind> {
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
enum TestId {
    Obj(ObjKind),
    Fd,
}

fn test_id(op: u32) -> Option<TestId> {
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

struct Gen {
    rng: ChaCha8Rng,
    /// This call is well formed but for its values: exact size, no reserved bits, known
    /// flags, IDs of the right kind, a writable struct. Half the calls are, so that sequences
    /// build objects and mappings for the other half to break.
    clean: bool,
    /// The sequence has a device: its file's commands are drawn too.
    device: bool,
}

impl Gen {
    fn one_in(&mut self, n: u32) -> bool {
        self.rng.random_ratio(1, n)
    }

    fn small(&mut self, n: u8) -> u8 {
        self.rng.random_range(0..n)
    }

    fn id(&mut self, kind: Option<ObjKind>) -> Val {
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

    fn iova(&mut self) -> Val {
        match self.rng.random_range(0..10) {
            0..=3 => Val::AreaIova(self.small(8), self.rng.random_range(-2..4)),
            4..=6 => Val::Lit(IOVA_EDGES[self.rng.random_range(0..IOVA_EDGES.len())]),
            7 | 8 => Val::Lit(self.rng.random_range(0..256) * PAGE),
            _ => Val::Lit(self.rng.random()),
        }
    }

    fn len(&mut self) -> Val {
        match self.rng.random_range(0..10) {
            0..=4 => Val::Lit(self.rng.random_range(1..=16) * PAGE),
            5 | 6 => Val::Lit(LEN_EDGES[self.rng.random_range(0..LEN_EDGES.len())]),
            7 | 8 => Val::AreaLen(self.small(8)),
            _ => Val::Lit(self.rng.random_range(0..(80 * PAGE))),
        }
    }

    fn ptr(&mut self) -> Val {
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

    fn flags(&mut self, command: &str) -> Val {
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

    fn value(&mut self, command: &str, f: &FieldLayout) -> Val {
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
    fn length(&mut self, c: &Command) -> (u16, u8) {
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

    fn arg_place(&mut self) -> ArgPlace {
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

    /// Now and then points the struct's IOVA and length at one mapped area, so that unmaps and
    /// copies find something.
    fn aim_at_an_area(&mut self, c: &Command, fields: &mut [Field]) {
        if !self.one_in(3) {
            return;
        }
        let k = self.small(8);
        let is = |f: &Field, want: Kind| {
            let name = c.fields.iter().find(|l| l.offset == usize::from(f.offset));
            name.is_some_and(|l| kind(l.c_path, l.offset) == want)
        };
        let iovas: Vec<usize> = (0..fields.len())
            .filter(|&i| is(&fields[i], Kind::Iova))
            .collect();
        if let Some(&i) = iovas.last() {
            fields[i].val = Val::AreaIova(k, 0);
        }
        if let Some(f) = fields.iter_mut().find(|f| is(f, Kind::Len)) {
            f.val = Val::AreaLen(k);
        }
    }

    fn call(&mut self) -> Call {
        self.clean = self.one_in(2);
        let device = self.device;
        let all: Vec<&Command> = spec::commands()
            .iter()
            .filter(|c| device || c.target == Target::Iommufd)
            .collect();
        let total: u32 = all.iter().map(|c| c.weight).sum();
        let mut pick = self.rng.random_range(0..total);
        let c = all
            .iter()
            .find(|c| {
                let hit = pick < c.weight;
                pick = pick.saturating_sub(c.weight);
                hit
            })
            .unwrap_or(&all[0]);
        self.call_of(c, None)
    }

    /// A call of `c` (of test operation `op`, else one drawn).
    fn call_of(&mut self, c: &Command, op: Option<u32>) -> Call {
        if let Target::DeviceRegion { .. } = c.target {
            return self.region_call(c);
        }
        if c.value_arg {
            let v = match self.rng.random_range(0..6) {
                0 => self.rng.random(),
                1 | 2 if c.name == "VFIO_SET_IOMMU" => [1, 3][self.small(2) as usize],
                _ => self.rng.random_range(0..12),
            };
            return Call {
                name: c.name,
                arg: ArgPlace::Value(v),
                len: 0,
                tail: 0,
                fields: Vec::new(),
            };
        }
        let (len, tail) = self.length(c);
        let mut fields = Vec::new();
        let mut push = |offset: usize, width: usize, val: Val| {
            fields.push(Field {
                offset: offset as u16,
                width: width as u8,
                val,
            })
        };
        // The test command's union members are drawn by operation below.
        let payload = TEST_CMD_PAYLOAD_OFFSET..TEST_CMD_PAYLOAD_OFFSET + TEST_CMD_PAYLOAD_SIZE;
        let union = |f: &&FieldLayout| c.name == "IOMMU_TEST_CMD" && payload.contains(&f.offset);
        let mut len = len;
        for f in c.fields.iter().filter(|f| !union(f)) {
            let val = match kind(f.c_path, f.offset) {
                Kind::Size if !self.one_in(16) => Val::Lit(u64::from(len)),
                _ if c.target == Target::Device => self
                    .device_value(c, f)
                    .unwrap_or_else(|| self.value(c.name, f)),
                _ => self.value(c.name, f),
            };
            push(f.offset, f.size.min(8), val);
        }
        if c.name == "IOMMU_TEST_CMD" {
            let drawn = TEST_OPS[self.rng.random_range(0..TEST_OPS.len())];
            let (op, member) = op
                .and_then(|op| TEST_OPS.iter().find(|t| t.0 == op).copied())
                .unwrap_or(drawn);
            let op = match self.rng.random_range(0..40) {
                0 if !self.clean => 0,
                1 if !self.clean => 99,
                _ => op,
            };
            push(4, 4, Val::Lit(u64::from(op)));
            let id = match test_id(op) {
                Some(TestId::Fd) if !self.one_in(8) => Val::Fd(self.small(4)),
                Some(TestId::Obj(k)) => self.id(Some(k)),
                _ => self.id(None),
            };
            push(8, 4, id);
            for f in member {
                push(
                    TEST_CMD_PAYLOAD_OFFSET + f.offset,
                    f.size.min(8),
                    self.value(c.name, f),
                );
            }
        }
        if c.name == "VFIO_DEVICE_SET_IRQS" {
            let (with_data, data) = self.irq_set_data(len, &mut fields);
            // `argsz` covers the data when clean.
            if self.clean {
                if let Some(f) = fields.iter_mut().find(|f| f.offset == 0) {
                    f.val = Val::Lit(u64::from(with_data));
                }
            }
            len = with_data;
            fields.extend(data);
        }
        if !self.clean || self.one_in(2) {
            self.aim_at_an_area(c, &mut fields);
        }
        Call {
            name: c.name,
            arg: self.arg_place(),
            len,
            tail,
            fields,
        }
    }
}

impl Gen {
    /// Most sequences start by building something: an IOAS, mock devices attached to it, and
    /// for the VFIO node the compatibility IOAS and its type.
    fn prologue(&mut self, vfio_node: bool) -> Vec<Call> {
        if self.one_in(if self.device { 8 } else { 4 }) {
            return Vec::new();
        }
        self.clean = true;
        let cmd = |name| spec::command(name).expect("in the table");
        let mut calls = vec![self.call_of(cmd("IOMMU_IOAS_ALLOC"), None)];
        for _ in 0..self.rng.random_range(0..3) {
            let op = [IOMMU_TEST_OP_MOCK_DOMAIN, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS]
                [self.small(2) as usize];
            calls.push(self.call_of(cmd("IOMMU_TEST_CMD"), Some(op)));
        }
        if vfio_node {
            let mut set = self.call_of(cmd("IOMMU_VFIO_IOAS"), None);
            for f in set.fields.iter_mut().filter(|f| f.offset == 8) {
                f.val = Val::Lit(u64::from(IOMMU_VFIO_IOAS_SET));
            }
            calls.push(set);
            let mut iommu = self.call_of(cmd("VFIO_SET_IOMMU"), None);
            iommu.arg = ArgPlace::Value(u64::from(VFIO_TYPE1v2_IOMMU));
            calls.push(iommu);
        }
        if self.device {
            calls.extend(self.device_prologue());
        }
        calls
    }
}

/// The sequence of `seed`: a model, a node, and 1 to [`MAX_CALLS`] calls.
pub fn generate(seed: u64) -> Sequence {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        clean: false,
        device: false,
    };
    let models = uiommu_core::driver::MODELS;
    let model = models[g.rng.random_range(0..models.len())].name.to_string();
    let vfio_node = g.one_in(5);
    // A device file binds only to an iommufd (`VFIO_DEVICE_BIND_IOMMUFD` takes `/dev/iommu`).
    g.device = !vfio_node && g.one_in(3);
    let n = g.rng.random_range(1..=MAX_CALLS);
    let mut calls = g.prologue(vfio_node);
    calls.truncate(n);
    while calls.len() < n {
        calls.push(g.call());
    }
    Sequence {
        model,
        vfio_node,
        device: g.device.then(|| "edu".to_string()),
        calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_sequence() {
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7), generate(8));
    }

    #[test]
    fn sequences_cover_every_command_test_op_and_model() {
        let seqs: Vec<_> = (0..400).map(generate).collect();
        for c in spec::commands() {
            assert!(
                seqs.iter()
                    .flat_map(|s| &s.calls)
                    .any(|call| call.name == c.name),
                "{} never drawn",
                c.name
            );
        }
        for m in uiommu_core::driver::MODELS {
            assert!(seqs.iter().any(|s| s.model == m.name), "{}", m.name);
        }
        let ops: std::collections::BTreeSet<u64> = seqs
            .iter()
            .flat_map(|s| &s.calls)
            .flat_map(|c| &c.fields)
            .filter_map(|f| match (f.offset, f.val) {
                (4, Val::Lit(op)) => Some(op),
                _ => None,
            })
            .collect();
        assert!((1..=23).all(|op| ops.contains(&op)));
    }

    #[test]
    fn field_names_map_to_what_they_hold() {
        assert_eq!(kind("size", 0), Kind::Size);
        assert_eq!(kind("size", 24), Kind::Len);
        assert_eq!(kind("ioas_id", 8), Kind::Id);
        assert_eq!(kind("check_map.uptr", 16), Kind::Ptr);
        assert_eq!(kind("dst_iova", 24), Kind::Iova);
        assert_eq!(kind("out_ioas_id", 8), Kind::Out);
        assert_eq!(kind("__reserved", 12), Kind::Reserved);
        assert_eq!(kind("out_access_fd", 0), Kind::Fd);
    }
}
