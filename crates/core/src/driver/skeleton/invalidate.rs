//! The walk of a user invalidation array (`cache_invalidate_user` of a nested domain,
//! `cache_invalidate` of a vIOMMU): each request is run in order, and the count returned is
//! of the requests handled before the first error, which stops the walk
//! (`struct iommu_user_data_array`'s `entry_num` is written back with it).

use uiommu_uapi::copy::UserDataArray;
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};
use zerocopy::{FromBytes, IntoBytes};

/// Copies each entry as it comes (`iommu_copy_struct_from_user_array` with `min_len`) and
/// runs it. A wrong array type is `EINVAL` before any entry; a copy error stops the walk
/// like a request's.
pub fn each_entry<T: FromBytes + IntoBytes>(
    requests: &UserDataArray,
    mem: &dyn UserMemory,
    data_type: u32,
    min_len: usize,
    mut run: impl FnMut(T) -> Result<()>,
) -> (u32, Result<()>) {
    if requests.data_type != data_type {
        return (0, Err(Errno::EINVAL));
    }
    let mut done = 0;
    for i in 0..requests.entry_num {
        let r = requests
            .read_entry(&mem, data_type, i, min_len)
            .and_then(&mut run);
        if let Err(e) = r {
            return (done, Err(e));
        }
        done += 1;
    }
    (done, Ok(()))
}

/// Copies every entry first (`iommu_copy_struct_from_full_user_array`: a copy error handles
/// none), then runs them in order; `run` gets each request's index and the whole array.
pub fn all_entries<T: FromBytes + IntoBytes>(
    requests: &UserDataArray,
    mem: &dyn UserMemory,
    data_type: u32,
    mut run: impl FnMut(usize, &[T]) -> Result<()>,
) -> (u32, Result<()>) {
    let all: Vec<T> = match requests.read_all(&mem, data_type) {
        Ok(all) => all,
        Err(e) => return (0, Err(e)),
    };
    let mut done = 0;
    for i in 0..all.len() {
        if let Err(e) = run(i, &all) {
            return (done, Err(e));
        }
        done += 1;
    }
    (done, Ok(()))
}
