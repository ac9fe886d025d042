//! A file that stays with the process that opened it (a device file, a group file): a forked
//! child's calls on an inherited fd of it are `EBADF`, and its closing the fd releases
//! nothing, as the child's memory would be what the release acted on. The opener's last close
//! releases it, with the fork gate held as for a command.

use crate::fork;
use crate::sys::Errno;

/// What closing the last fd of a file does (its `release`).
pub trait Release {
    /// Releases the file.
    fn release(self);
}

/// A file and the process that opened it.
pub struct Owned<T: Release> {
    /// Always `Some` but while it is dropped.
    value: Option<T>,
    owner: u32,
}

impl<T: Release> Owned<T> {
    /// `value`, opened by this process.
    pub fn new(value: T) -> Self {
        Owned {
            value: Some(value),
            owner: crate::process::pid(),
        }
    }

    /// The file, for the process that opened it; `EBADF` in a forked child.
    pub fn serve(&self) -> Result<&T, Errno> {
        match &self.value {
            Some(v) if crate::process::pid() == self.owner => Ok(v),
            _ => Err(libc::EBADF),
        }
    }
}

impl<T: Release> Drop for Owned<T> {
    fn drop(&mut self) {
        let Some(value) = self.value.take() else {
            return;
        };
        if crate::process::pid() != self.owner {
            std::mem::forget(value);
            return;
        }
        let _gate = fork::command_guard();
        value.release();
    }
}
