//! Generating a sequence from a seed: the struct of every call is built field by field from
//! its C layout, each field's value drawn by what its name says it is (a size, an object ID,
//! an IOVA, a length, a user pointer, flags, a reserved word...), mostly valid and often at an
//! edge, so that calls get past their first checks and then fail in the interesting places.

use crate::MAX_CALLS;
use crate::call::{ArgPlace, Call, Field, Region, Sequence, Val};
use crate::spec::{self, Command, TEST_OPS};
use crate::world::PAGE;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uiommu_uapi::layout::FieldLayout;
use uiommu_uapi::selftest::TEST_CMD_PAYLOAD_OFFSET;

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
    Any,
}

fn kind(name: &str, offset: usize) -> Kind {
    let n = name.rsplit('.').next().unwrap_or(name);
    match n {
        "size" | "argsz" if offset == 0 => Kind::Size,
        "flags" | "dev_flags" | "open_flags" => Kind::Flags,
        "page_size" | "pgsize" => Kind::PageSize,
        "user_va" | "uptr" | "vaddr" | "data" | "allowed_iovas" | "data_uptr" | "addr" => Kind::Ptr,
        "length" | "size" | "len" | "out_data_len" | "data_len" | "entry_len" => Kind::Len,
        _ if n.starts_with("__") => Kind::Reserved,
        _ if n.ends_with("_fd") || n == "fd" => Kind::Fd,
        _ if n.starts_with("out_") => Kind::Out,
        _ if n.contains("iova") || n == "start" || n == "base_addr" => Kind::Iova,
        _ if n.contains("uptr") || n.ends_with("_ptr") => Kind::Ptr,
        _ if n.starts_with("num")
            || n.ends_with("_num")
            || matches!(n, "pasid" | "refs" | "option_id" | "op" | "data_type") =>
        {
            Kind::Count
        }
        _ if n.ends_with("id") => Kind::Id,
        _ => Kind::Any,
    }
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

const LEN_EDGES: [u64; 9] = [0, 1, PAGE - 1, PAGE + 1, u64::MAX, 1 << 32, 1 << 40, 0x20_0000, 3];

struct Gen {
    rng: ChaCha8Rng,
}

impl Gen {
    fn one_in(&mut self, n: u32) -> bool {
        self.rng.random_ratio(1, n)
    }

    fn small(&mut self, n: u8) -> u8 {
        self.rng.random_range(0..n)
    }

    fn id(&mut self) -> Val {
        match self.rng.random_range(0..20) {
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
        match self.rng.random_range(0..10) {
            0..=3 if command == "IOMMU_IOAS_MAP" => Val::Lit([7, 6, 3, 5, 1][self.small(5) as usize]),
            0..=3 if command == "VFIO_IOMMU_MAP_DMA" => Val::Lit(3),
            0..=3 => Val::Lit(0),
            4..=6 => Val::Lit(bit(self)),
            7 | 8 => Val::Lit(self.rng.random_range(0..16)),
            _ => Val::Lit(u64::from(self.rng.random::<u32>())),
        }
    }

    fn value(&mut self, command: &str, f: &FieldLayout) -> Val {
        match kind(f.c_path, f.offset) {
            Kind::Size | Kind::Reserved | Kind::Out => {
                Val::Lit(if self.one_in(12) { self.rng.random() } else { 0 })
            }
            Kind::Id => self.id(),
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
            Kind::PageSize => Val::Lit([PAGE, PAGE, 0x20_0000, 0, 1, 3 * PAGE][self.small(6) as usize]),
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
        match self.rng.random_range(0..40) {
            0 => ArgPlace::None,
            1 | 2 => ArgPlace::Ro,
            3 => ArgPlace::Edge,
            4 => ArgPlace::EdgeRo,
            _ => ArgPlace::Rw,
        }
    }

    fn call(&mut self) -> Call {
        let all = spec::commands();
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
        if c.value_arg {
            let v = match self.rng.random_range(0..4) {
                0 => self.rng.random(),
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
        for f in c.fields {
            let val = match kind(f.c_path, f.offset) {
                Kind::Size if !self.one_in(16) => Val::Lit(u64::from(len)),
                _ => self.value(c.name, f),
            };
            push(f.offset, f.size.min(8), val);
        }
        if c.name == "IOMMU_TEST_CMD" {
            let (op, member) = TEST_OPS[self.rng.random_range(0..TEST_OPS.len())];
            let op = match self.rng.random_range(0..40) {
                0 => 0,
                1 => 99,
                _ => op,
            };
            push(4, 4, Val::Lit(u64::from(op)));
            push(8, 4, self.id());
            for f in member {
                push(TEST_CMD_PAYLOAD_OFFSET + f.offset, f.size.min(8), self.value(c.name, f));
            }
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

/// The sequence of `seed`: a model, a node, and 1 to [`MAX_CALLS`] calls.
pub fn generate(seed: u64) -> Sequence {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    let models = uiommu_core::driver::MODELS;
    let model = models[g.rng.random_range(0..models.len())].name.to_string();
    let vfio_node = g.one_in(5);
    let n = g.rng.random_range(1..=MAX_CALLS);
    Sequence {
        model,
        vfio_node,
        calls: (0..n).map(|_| g.call()).collect(),
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
                seqs.iter().flat_map(|s| &s.calls).any(|call| call.name == c.name),
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
