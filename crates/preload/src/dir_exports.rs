//! The exported directory-stream calls: `opendir` and `fdopendir` of a directory with entries
//! of the emulated devices give a stream that lists them too ([`vdir`]); `readdir` and
//! `readdir64` list them after the host's; `closedir` forgets the stream. With fault injection
//! on, `opendir` of debugfs is the directory of its knobs ([`crate::failnth`]).

use crate::exports::guard;
use crate::sys::{self, set_errno};
use crate::vdir::{self, Step};
use crate::vpath::{self, Target};
use crate::{emulated, failnth};
use libc::{c_char, c_int};
use std::ffi::CString;
use uiommu_abi::sysfs::Node;

/// `opendir(path)`.
///
/// # Safety
/// C contract of `opendir`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    let null = std::ptr::null_mut();
    guard(null, || {
        // SAFETY: `path` is null or NUL-terminated (the C contract of `opendir`).
        let Some(p) = (unsafe { sys::c_str(path) }) else {
            return sys::next_opendir(path);
        };
        if failnth::enabled() && failnth::is_debugfs(p.to_bytes()) {
            let knobs = failnth::debugfs_dir()
                .and_then(|d| CString::new(d.as_os_str().as_encoded_bytes()).ok());
            if let Some(dir) = knobs {
                return sys::next_opendir(dir.as_ptr());
            }
        }
        match vpath::resolve(None, p.to_bytes(), true) {
            None => sys::next_opendir(path),
            Some(Err(e)) => {
                set_errno(e);
                null
            }
            Some(Ok(Target::Real(real))) => {
                let d = sys::next_opendir(real.as_ptr());
                vdir::opened(d, &real.to_string_lossy(), false);
                d
            }
            Some(Ok(Target::Virtual(p, Node::Dir))) => {
                let d = sys::next_opendir(c"/".as_ptr());
                vdir::opened(d, &p, true);
                d
            }
            Some(Ok(Target::Virtual(
                _,
                Node::CharDev(..)
                | Node::Text(_)
                | Node::Config(..)
                | Node::Debugfs { .. }
                | Node::NumVfs(_),
            ))) => {
                set_errno(libc::ENOTDIR);
                null
            }
            // A final link is always followed.
            Some(Ok(Target::Virtual(_, Node::Link(_)))) => {
                set_errno(libc::ELOOP);
                null
            }
        }
    })
}

/// `fdopendir(fd)`.
#[unsafe(no_mangle)]
pub extern "C" fn fdopendir(fd: c_int) -> *mut libc::DIR {
    guard(std::ptr::null_mut(), || {
        let d = sys::next_fdopendir(fd);
        if d.is_null() || emulated::tree().is_none() {
            return d;
        }
        let e = sys::errno();
        if let Some(p) = vdir::path_of_fd(fd) {
            vdir::opened(d, &p, true);
        } else if let Some(p) = CString::new(format!("/proc/self/fd/{fd}"))
            .ok()
            .and_then(|l| sys::readlink(&l))
            .and_then(|p| String::from_utf8(p).ok())
        {
            vdir::opened(d, &p, false);
        }
        set_errno(e);
        d
    })
}

/// The body of `readdir` and `readdir64`.
fn readdir_common(
    dir: *mut libc::DIR,
    host: impl FnOnce() -> *mut libc::dirent64,
) -> *mut libc::dirent64 {
    guard(std::ptr::null_mut(), || match vdir::step(dir) {
        Step::Host => host(),
        Step::Extra => vdir::next_extra(dir),
        Step::HostThenExtra => {
            // The end of the host's entries leaves errno as it was; an error changes it.
            let before = sys::errno();
            set_errno(0);
            let e = host();
            let err = sys::errno();
            if !e.is_null() || err != 0 {
                return e;
            }
            set_errno(before);
            vdir::next_extra(dir)
        }
    })
}

/// `readdir(dir)`.
///
/// # Safety
/// C contract of `readdir`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir(dir: *mut libc::DIR) -> *mut libc::dirent64 {
    readdir_common(dir, || sys::next_readdir(dir))
}

/// `readdir64(dir)`.
///
/// # Safety
/// C contract of `readdir64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir64(dir: *mut libc::DIR) -> *mut libc::dirent64 {
    readdir_common(dir, || sys::next_readdir64(dir))
}

/// `closedir(dir)`.
///
/// # Safety
/// C contract of `closedir`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn closedir(dir: *mut libc::DIR) -> c_int {
    guard(-1, || {
        vdir::closed(dir);
        sys::next_closedir(dir)
    })
}
