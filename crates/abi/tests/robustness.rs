//! Whatever a caller passes, `dispatch` returns a value or an errno: no panic, no hang, and
//! the object table stays consistent. Random command sequences over random bytes, against a
//! fake address space with holes.

use proptest::prelude::*;
use std::sync::Arc;
use uiommu_abi::{Caller, IoctlOp, NoFiles, dispatch, iommufd_ioctls};
use uiommu_core::context::{Context, Node, Process};
use uiommu_core::ioas::{LockedVm, PinRegistry, ProbeMemory};
use uiommu_uapi::user::testing::TestMemory;

const ARG: u64 = 0x10_0000;

fn context(mem: Arc<TestMemory>) -> Arc<Context> {
    let process = Process {
        memory: Arc::new(ProbeMemory(mem)),
        registry: Arc::new(PinRegistry::new()),
        user_locked: Arc::new(LockedVm::new(1 << 20)),
        mm_locked: Arc::new(LockedVm::new(1 << 20)),
        cap_ipc_lock: false,
        cap_sys_resource: true,
    };
    Context::new(
        process,
        Node::Iommu,
        uiommu_core::driver::default_model().create(),
    )
}

#[test]
fn core_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Context>();
}

/// One ioctl: which command, and the struct bytes with small IDs and sizes mixed in so that
/// commands often reach past their first checks.
#[derive(Debug, Clone)]
struct Call {
    op: usize,
    raw_cmd: Option<u32>,
    bytes: Vec<u8>,
    ids: [u32; 4],
    size_delta: i8,
}

/// The iommufd commands by number.
fn ops() -> Vec<(u32, &'static IoctlOp)> {
    iommufd_ioctls().collect()
}

fn call() -> impl Strategy<Value = Call> {
    (
        0..ops().len(),
        prop::option::weighted(0.05, any::<u32>()),
        prop::collection::vec(any::<u8>(), 128),
        prop::array::uniform4(0u32..6),
        -4i8..7,
    )
        .prop_map(|(op, raw_cmd, bytes, ids, size_delta)| Call {
            op,
            raw_cmd,
            bytes,
            ids,
            size_delta,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_calls_never_panic(calls in prop::collection::vec(call(), 1..40), test_op in 1u32..24) {
        let mem = Arc::new(TestMemory::new());
        // Struct memory, and a data area the structs may point into; everything else faults.
        mem.map(ARG, 4096);
        mem.map(0x20_0000, 64 * 4096);
        let ctx = context(mem.clone());
        let ops = ops();
        for c in calls {
            let (op_cmd, op) = ops[c.op];
            // Mostly well-formed: the right size, zeroes for most words (reserved fields and
            // unused flags), small object IDs, pointers into the mapped data area, and now and
            // then garbage or a wrong size.
            let size = match c.size_delta {
                -4..=4 => op.size as u32,
                d => (op.size as i64 + i64::from(d) * 8) as u32,
            };
            let mut bytes = vec![0u8; 128];
            bytes[..4].copy_from_slice(&size.to_ne_bytes());
            for at in (4..op.size).step_by(4) {
                let word = match c.bytes[at] % 10 {
                    0..=4 => 0,
                    5..=7 => c.ids[(c.bytes[at + 1] % 4) as usize],
                    8 => u32::from(c.bytes[at + 2]) & 0xf,
                    _ => u32::from_ne_bytes(c.bytes[at..at + 4].try_into().unwrap()),
                };
                bytes[at..at + 4].copy_from_slice(&word.to_ne_bytes());
            }
            if op_cmd == uiommu_uapi::selftest::IOMMU_TEST_CMD {
                bytes[4..8].copy_from_slice(&test_op.to_ne_bytes());
            }
            for at in (16..op.size.min(120)).step_by(8) {
                if c.bytes[at + 3] % 4 == 0 {
                    let p = 0x20_0000u64 + u64::from(c.bytes[at + 1] % 64) * 4096;
                    bytes[at..at + 8].copy_from_slice(&p.to_ne_bytes());
                }
            }
            mem.put(ARG, &bytes);
            let cmd = c.raw_cmd.unwrap_or(op_cmd);
            let before = ctx.objects.ids();
            let r = dispatch(&ctx, &Caller::opener(mem.as_ref(), &NoFiles), cmd, ARG);
            if std::env::var_os("ROBUST_STATS").is_some() {
                eprintln!("STAT {} {:?}", op.name, r.map(|_| "ok").map_err(|e| e.name()));
            }
            if r.is_err() && op_cmd != uiommu_uapi::iommufd::IOMMU_DESTROY {
                // A failed command creates nothing.
                let after = ctx.objects.ids();
                prop_assert!(after.iter().all(|id| before.contains(id)), "{:?} {:?} -> {:?}", op.name, before, after);
            }
        }
        drop(ctx);
    }
}
