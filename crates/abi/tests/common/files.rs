//! An fd host for tests: fds are numbers from 1000 in a table.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use uiommu_abi::{FdHost, File};
use uiommu_uapi::Errno;

/// The tests' files.
pub struct Files {
    table: Mutex<(i32, BTreeMap<i32, File>)>,
}

/// One table for the test binary.
pub static FILES: Files = Files {
    table: Mutex::new((1000, BTreeMap::new())),
};

impl Files {
    /// `close(fd)`: drops the file, releasing it when no fd is left.
    pub fn close(&self, fd: i32) {
        let file = self.table.lock().unwrap().1.remove(&fd);
        if let Some(f) = file {
            f.release();
        }
    }
}

impl FdHost for Files {
    fn install(&self, file: File) -> Result<i32, Errno> {
        let mut t = self.table.lock().unwrap();
        let fd = t.0;
        t.0 += 1;
        t.1.insert(fd, file);
        Ok(fd)
    }
    fn uninstall(&self, fd: i32) {
        self.table.lock().unwrap().1.remove(&fd);
    }
    fn get(&self, fd: i32) -> Option<File> {
        self.table.lock().unwrap().1.get(&fd).cloned()
    }
    fn map_file(
        &self,
        _fd: i32,
    ) -> Result<std::sync::Arc<dyn uiommu_core::ioas::FileBacking>, Errno> {
        Err(Errno::EBADF)
    }
}
