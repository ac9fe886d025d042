//! Generating a sequence from a seed: the struct of every call is built field by field from
//! its C layout, each field's value drawn by what its name says it is (a size, an object ID,
//! an IOVA, a length, a user pointer, flags, a reserved word...), mostly valid and often at an
//! edge, so that calls get past their first checks and then fail in the interesting places.

mod device;
mod values;

use values::{Kind, TestId, kind, test_id};

use crate::MAX_CALLS;
use crate::call::{ArgPlace, Call, Field, Sequence, Val};
use crate::spec::{self, Command, TEST_OPS, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uiommu_uapi::iommufd::IOMMU_VFIO_IOAS_SET;
use uiommu_uapi::layout::FieldLayout;
use uiommu_uapi::selftest::{
    IOMMU_TEST_OP_MOCK_DOMAIN, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, TEST_CMD_PAYLOAD_OFFSET,
    TEST_CMD_PAYLOAD_SIZE,
};
use uiommu_uapi::vfio::VFIO_TYPE1v2_IOMMU;

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
