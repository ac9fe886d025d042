use super::*;
use crate::user::testing::TestMemory;
use proptest::prelude::*;

const BASE: u64 = 0x10_0000;

#[test]
fn shorter_caller_struct_is_zero_extended() {
    let mem = TestMemory::new();
    mem.put(BASE, &[1, 2, 3, 4]);
    let mut dst = [0xffu8; 8];
    copy_struct_from_user(&mem, &mut dst, BASE, 4).unwrap();
    assert_eq!(dst, [1, 2, 3, 4, 0, 0, 0, 0]);
}

#[test]
fn longer_caller_struct_needs_a_zero_tail() {
    let mem = TestMemory::new();
    mem.put(BASE, &[1, 2, 3, 4, 0, 0, 0, 0]);
    let mut dst = [0u8; 4];
    copy_struct_from_user(&mem, &mut dst, BASE, 8).unwrap();
    assert_eq!(dst, [1, 2, 3, 4]);
    mem.put(BASE + 7, &[9]);
    let mut dst = [0xeeu8; 4];
    assert_eq!(
        copy_struct_from_user(&mem, &mut dst, BASE, 8),
        Err(Errno::E2BIG)
    );
    assert_eq!(
        dst, [0xee; 4],
        "nothing is copied when the tail is rejected"
    );
}

#[test]
fn tail_is_checked_before_the_head_is_copied() {
    // Non-zero byte in the first tail page, unreadable second tail page: E2BIG wins, because
    // the scan stops at the first non-zero word.
    let mem = TestMemory::new();
    mem.map(BASE, USER_PAGE_SIZE);
    mem.put(BASE + 100, &[1]);
    let mut dst = [0u8; 16];
    assert_eq!(
        copy_struct_from_user(&mem, &mut dst, BASE, 2 * USER_PAGE_SIZE),
        Err(Errno::E2BIG)
    );
    // All-zero first page, then unreadable: EFAULT.
    mem.put(BASE + 100, &[0]);
    assert_eq!(
        copy_struct_from_user(&mem, &mut dst, BASE, 2 * USER_PAGE_SIZE),
        Err(Errno::EFAULT)
    );
}

#[test]
fn unreadable_struct_is_efault_and_wrapping_is_efault() {
    let mem = TestMemory::new();
    let mut dst = [0u8; 8];
    assert_eq!(
        copy_struct_from_user(&mem, &mut dst, BASE, 8),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        copy_struct_from_user(&mem, &mut dst, u64::MAX - 3, 16),
        Err(Errno::EFAULT)
    );
}

#[test]
fn copy_to_user_clears_the_callers_tail_and_truncates() {
    let mem = TestMemory::new();
    mem.put(BASE, &[0xaa; 8]);
    copy_struct_to_user(&mem, BASE, 8, &[1, 2, 3, 4]).unwrap();
    assert_eq!(mem.get(BASE, 8), [1, 2, 3, 4, 0, 0, 0, 0]);
    mem.put(BASE, &[0xaa; 8]);
    copy_struct_to_user(&mem, BASE, 2, &[1, 2, 3, 4]).unwrap();
    assert_eq!(mem.get(BASE, 8), [1, 2, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::Immutable,
)]
#[repr(C)]
struct Data {
    a: u32,
    b: u32,
}

#[test]
fn driver_data_type_and_length_rules() {
    let mem = TestMemory::new();
    mem.put(BASE, &[1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    let data = |data_type, len| UserData {
        data_type,
        uptr: BASE,
        len,
    };
    // Exact.
    assert_eq!(
        read_user_data::<Data>(&mem, &data(7, 8), 7, 4),
        Ok(Data { a: 1, b: 2 })
    );
    // Older (first version was 4 bytes): zero-extended.
    assert_eq!(
        read_user_data::<Data>(&mem, &data(7, 4), 7, 4),
        Ok(Data { a: 1, b: 0 })
    );
    // Type mismatch, shorter than the first version, longer than ours: all EINVAL.
    assert_eq!(
        read_user_data::<Data>(&mem, &data(8, 8), 7, 4),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        read_user_data::<Data>(&mem, &data(7, 3), 7, 4),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        read_user_data::<Data>(&mem, &data(7, 12), 7, 4),
        Err(Errno::EINVAL)
    );
}

#[test]
fn driver_data_arrays() {
    let mem = TestMemory::new();
    // Three 12-byte entries (a newer layout with a zero tail word).
    let mut bytes = Vec::new();
    for i in 0..3u32 {
        bytes.extend_from_slice(&i.to_le_bytes());
        bytes.extend_from_slice(&(10 * i).to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
    }
    mem.put(BASE, &bytes);
    let array = UserDataArray {
        data_type: 5,
        uptr: BASE,
        entry_len: 12,
        entry_num: 3,
    };
    // The per-entry copy rejects entries longer than ours.
    assert_eq!(array.read_entry::<Data>(&mem, 5, 1, 8), Err(Errno::EINVAL));
    let all = array.read_all::<Data>(&mem, 5).unwrap();
    assert_eq!(
        all,
        [
            Data { a: 0, b: 0 },
            Data { a: 1, b: 10 },
            Data { a: 2, b: 20 }
        ]
    );
    let exact = UserDataArray {
        entry_len: 8,
        ..array
    };
    assert_eq!(
        exact.read_entry::<Data>(&mem, 5, 0, 8),
        Ok(Data { a: 0, b: 0 })
    );
    assert_eq!(exact.read_entry::<Data>(&mem, 5, 3, 8), Err(Errno::EINVAL));
    assert_eq!(array.read_all::<Data>(&mem, 6), Err(Errno::EINVAL));
    let empty = UserDataArray {
        entry_num: 0,
        ..array
    };
    assert_eq!(empty.read_all::<Data>(&mem, 5), Err(Errno::EINVAL));
}

#[test]
fn vfio_argsz_and_flags() {
    // A map-DMA-like struct: argsz, flags, vaddr, iova, size; minsz covers all of it.
    #[derive(Debug, PartialEq, zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::Immutable)]
    #[repr(C)]
    struct Map {
        argsz: u32,
        flags: u32,
        vaddr: u64,
        extra: u64,
    }
    let mem = TestMemory::new();
    let put = |argsz: u32, flags: u32| {
        let mut v = argsz.to_ne_bytes().to_vec();
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&7u64.to_ne_bytes());
        v.extend_from_slice(&9u64.to_ne_bytes());
        mem.put(BASE, &v);
    };
    put(16, 1);
    // Only minsz bytes are read: `extra` stays zero even though the caller has it.
    assert_eq!(
        read_vfio::<Map>(&mem, BASE, 16, 3),
        Ok(Map {
            argsz: 16,
            flags: 1,
            vaddr: 7,
            extra: 0
        })
    );
    put(15, 1);
    assert_eq!(read_vfio::<Map>(&mem, BASE, 16, 3), Err(Errno::EINVAL));
    put(1000, 4);
    assert_eq!(read_vfio::<Map>(&mem, BASE, 16, 3), Err(Errno::EINVAL));
    // A larger argsz is fine; the bytes past minsz are not looked at.
    put(1000, 2);
    assert!(read_vfio::<Map>(&mem, BASE, 16, 3).is_ok());
    assert_eq!(
        read_vfio::<Map>(&mem, 0x9000_0000, 16, 3),
        Err(Errno::EFAULT)
    );
}

/// The rule, stated directly over a byte model of the caller's memory.
fn model_copy(user: &[Option<u8>], ksize: usize, usize: usize) -> Result<Vec<u8>> {
    let common = ksize.min(usize);
    if usize > ksize {
        for b in &user[ksize..usize] {
            match b {
                None => return Err(Errno::EFAULT),
                Some(0) => {}
                Some(_) => return Err(Errno::E2BIG),
            }
        }
    }
    let mut out = vec![0; ksize];
    for i in 0..common {
        out[i] = user[i].ok_or(Errno::EFAULT)?;
    }
    Ok(out)
}

proptest! {
    /// Any caller size (smaller, equal, larger), any contents (zeros, garbage), any hole in the
    /// caller's memory: the result is what the rule says.
    #[test]
    fn copy_struct_from_user_matches_the_rule(
        ksize in 1usize..64,
        usize in 0usize..(3 * 4096),
        garbage in prop::collection::vec((0usize..(3 * 4096), 1u8..), 0..3),
        hole_page in prop::option::of(0u64..3),
        offset in 0u64..4096,
    ) {
        let mem = TestMemory::new();
        let base = BASE + offset;
        mem.map(base, 4 * 4096);
        for (at, v) in &garbage {
            mem.put(base + *at as u64, &[*v]);
        }
        if let Some(p) = hole_page {
            mem.unmap(BASE + (p + 1) * 4096, 1);
        }
        let mut model_mem = vec![None; usize.max(ksize)];
        let mut byte = [0u8];
        for (i, slot) in model_mem.iter_mut().enumerate() {
            if mem.read(base + i as u64, &mut byte).is_ok() {
                *slot = Some(byte[0]);
            }
        }
        let mut dst = vec![0x5a; ksize];
        let got = copy_struct_from_user(&mem, &mut dst, base, usize as u64).map(|()| dst);
        prop_assert_eq!(got, model_copy(&model_mem, ksize, usize));
    }
}
