//! Seed 000's four compatibility cases — exact size, older caller, newer caller, malicious
//! sizes — for every command in the table, plus lookup by number and routing.

use super::*;
use crate::iommufd::owns;
use crate::iommufd::ucmd::UserCmd;
use proptest::prelude::*;
use uiommu_uapi::Errno;
use uiommu_uapi::ioctl::{io, ioc};
use uiommu_uapi::user::testing::TestMemory;

const ARG: u64 = 0x40_0000;

/// A caller struct of `len` bytes: `size` first, then a recognisable pattern.
fn caller_struct(user_size: u32, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7) | 1).collect();
    v[..4].copy_from_slice(&user_size.to_ne_bytes());
    v
}

fn expect_copied(cmd: &UserCmd, user: &[u8], op: &IoctlOp) {
    let common = user.len().min(op.size);
    assert_eq!(
        &cmd.buf.0[..common],
        &user[..common],
        "{}: common part",
        op.name
    );
    assert!(
        cmd.buf.0[common..op.size].iter().all(|&b| b == 0),
        "{}: zero-extended",
        op.name
    );
}

/// Reading `op`'s command `ioctl` from `mem` fails with `want`.
fn assert_read_err(mem: &TestMemory, ioctl: u32, op: &IoctlOp, want: Errno) {
    assert_eq!(
        UserCmd::read(mem, ioctl, ARG).err(),
        Some(want),
        "{}",
        op.name
    );
}

#[test]
fn case1_exact_size() {
    for (ioctl, op) in OPS.rows() {
        let mem = TestMemory::new();
        let user = caller_struct(op.size as u32, op.size);
        mem.put(ARG, &user);
        let cmd = UserCmd::read(&mem, ioctl, ARG).unwrap();
        assert!(std::ptr::eq(cmd.op, op), "{}", op.name);
        assert_eq!(cmd.user_size, op.size as u32);
        expect_copied(&cmd, &user, op);
    }
}

#[test]
fn case2_older_caller_is_zero_extended() {
    for (ioctl, op) in OPS.rows() {
        // Every size from the first version's end up to ours, aligned or not.
        for user_size in op.min_size..op.size {
            let mem = TestMemory::new();
            let user = caller_struct(user_size as u32, user_size);
            mem.put(ARG, &user);
            // The bytes just past the caller's struct are not its own: they must not be read.
            mem.unmap(ARG + 4096, 1);
            let cmd = UserCmd::read(&mem, ioctl, ARG).unwrap();
            expect_copied(&cmd, &user, op);
        }
    }
}

#[test]
fn case3_newer_caller_needs_zero_tail() {
    for (ioctl, op) in OPS.rows() {
        for extra in [1usize, 4, 8, 64, 4096, 3 * 4096 + 5] {
            let user_size = op.size + extra;
            let mem = TestMemory::new();
            let mut user = caller_struct(user_size as u32, op.size);
            user.resize(user_size, 0);
            mem.put(ARG, &user);
            let cmd = UserCmd::read(&mem, ioctl, ARG).unwrap();
            expect_copied(&cmd, &user, op);
            // Any non-zero byte past our struct: E2BIG.
            for at in [op.size, op.size + extra / 2, user_size - 1] {
                mem.put(ARG + at as u64, &[0x80]);
                assert_read_err(&mem, ioctl, op, Errno::E2BIG);
                mem.put(ARG + at as u64, &[0]);
            }
            // A tail reaching unmapped memory: EFAULT.
            let mem = TestMemory::new();
            mem.put(ARG, &user[..op.size]);
            mem.unmap(ARG + op.size as u64, 1);
            let first_page_end = (ARG + op.size as u64) / 4096 * 4096 + 4096;
            if ARG + (user_size as u64) > first_page_end {
                assert_read_err(&mem, ioctl, op, Errno::EFAULT);
            }
        }
    }
}

#[test]
fn case4_malicious_sizes() {
    for (ioctl, op) in OPS.rows() {
        // Below the minimum, including 0: EINVAL, whatever follows.
        for user_size in [0, 1, 3, op.min_size.saturating_sub(1)] {
            if user_size >= op.min_size {
                continue;
            }
            let mem = TestMemory::new();
            mem.put(ARG, &caller_struct(user_size as u32, op.size.max(4)));
            assert_read_err(&mem, ioctl, op, Errno::EINVAL);
        }
        // The size word itself unreadable: EFAULT before anything else.
        let mem = TestMemory::new();
        assert_eq!(UserCmd::read(&mem, ioctl, ARG).err(), Some(Errno::EFAULT));
        // The largest size: the kernel scans the whole tail; here it ends at a hole.
        let mem = TestMemory::new();
        mem.put(ARG, &caller_struct(u32::MAX, op.size));
        mem.map(ARG, 8 * 4096);
        assert_read_err(&mem, ioctl, op, Errno::EFAULT);
    }
}

#[test]
fn respond_writes_no_more_than_the_callers_size() {
    let op = OPS.get(IOMMU_IOAS_ALLOC).unwrap();
    let mem = TestMemory::new();
    let user_size = op.min_size as u32;
    mem.put(ARG, &caller_struct(user_size, 64));
    let cmd = UserCmd::read(&mem, IOMMU_IOAS_ALLOC, ARG).unwrap();
    let out = IommuIoasAlloc {
        size: user_size,
        flags: 0,
        out_ioas_id: 7,
    };
    cmd.respond(&mem, &out).unwrap();
    assert_eq!(mem.get(ARG + 8, 4), 7u32.to_ne_bytes());
    // A caller that declared fewer bytes gets fewer: nothing past its size is written.
    let mem = TestMemory::new();
    mem.put(ARG, &caller_struct(12, 64));
    let mut cmd = UserCmd::read(&mem, IOMMU_IOAS_ALLOC, ARG).unwrap();
    cmd.user_size = 8;
    cmd.respond(&mem, &out).unwrap();
    assert_eq!(mem.get(ARG + 8, 4), caller_struct(12, 64)[8..12]);
}

#[test]
fn routing_follows_the_number_field() {
    for (ioctl, op) in OPS.rows() {
        assert!(owns(ioctl), "{}", op.name);
    }
    // VFIO's commands (nr 100..) go to the compatibility layer, as does anything past
    // IOMMU_TEST_CMD.
    for cmd in [io(b';', 100), io(b';', 0x7f), io(b';', 0xa1)] {
        assert!(!owns(cmd));
    }
    let mem = TestMemory::new();
    mem.put(ARG, &caller_struct(64, 64));
    // A gap in the table, and a known number with another type or direction: ENOTTY, but
    // only after the size word was read.
    for cmd in [io(b';', 0x96), io(b'x', 0x85), ioc(1, b';', 0x85, 40)] {
        assert!(owns(cmd));
        assert_eq!(UserCmd::read(&mem, cmd, ARG).err(), Some(Errno::ENOTTY));
        assert_eq!(
            UserCmd::read(&TestMemory::new(), cmd, ARG).err(),
            Some(Errno::EFAULT)
        );
    }
}

#[test]
fn every_row_sits_at_its_number() {
    let nrs: Vec<u8> = OPS.rows().map(|(ioctl, _)| ioc_nr(ioctl)).collect();
    assert_eq!(nrs.len(), ROWS.len(), "one row per number");
    assert!(nrs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(&nrs[..22], (0x80..=0x95).collect::<Vec<u8>>());
    assert_eq!(nrs[22], ioc_nr(IOMMU_TEST_CMD));
    for (ioctl, op) in OPS.rows() {
        assert_eq!(OPS.get(ioctl).map(|o| o.name), Some(op.name));
        assert!(op.min_size <= op.size && op.min_size >= 4, "{}", op.name);
    }
}

#[test]
fn rows_have_the_kernels_sizes() {
    // (struct size, offsetofend of the last mandatory field) from the 7.3 headers.
    let want = [
        ("IOMMU_DESTROY", 8, 8),
        ("IOMMU_IOAS_ALLOC", 12, 12),
        ("IOMMU_IOAS_MAP", 40, 40),
        ("IOMMU_IOAS_COPY", 40, 40),
        ("IOMMU_HWPT_GET_DIRTY_BITMAP", 48, 48),
        ("IOMMU_IOAS_IOVA_RANGES", 32, 32),
        ("IOMMU_VFIO_IOAS", 12, 12),
    ];
    for (name, size, min_size) in want {
        let (_, op) = OPS.rows().find(|(_, op)| op.name == name).unwrap();
        assert_eq!((op.size, op.min_size), (size, min_size), "{name}");
    }
}

proptest! {
    /// Garbage sizes and contents for a random command: the outcome is the rule's.
    #[test]
    fn any_size_any_content(
        op_index in 0..ROWS.len(),
        user_size in 0u32..512,
        content in prop::collection::vec(any::<u8>(), 512),
    ) {
        let (ioctl, op) = &ROWS[op_index];
        let mem = TestMemory::new();
        let mut user = content;
        user[..4].copy_from_slice(&user_size.to_ne_bytes());
        mem.put(ARG, &user);
        let got = UserCmd::read(&mem, *ioctl, ARG);
        let size = user_size as usize;
        let want = if size < op.min_size {
            Err(Errno::EINVAL)
        } else if size > op.size && user[op.size..size].iter().any(|&b| b != 0) {
            Err(Errno::E2BIG)
        } else {
            Ok(())
        };
        prop_assert_eq!(got.as_ref().map(|_| ()).map_err(|e| *e), want);
        if let Ok(cmd) = got {
            let common = size.min(op.size);
            prop_assert_eq!(&cmd.buf.0[..common], &user[..common]);
            prop_assert!(cmd.buf.0[common..op.size].iter().all(|&b| b == 0));
        }
    }
}
