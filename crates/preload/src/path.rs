//! Which paths name the device nodes we serve.
//!
//! `/dev/iommu` is iommufd; `/dev/vfio/vfio` is the VFIO container, which iommufd provides in
//! compatibility mode (or VFIO's legacy type1 container, see [`crate::container`]). A path is compared after lexical normalisation (repeated slashes, `.`,
//! `..`), and a relative path is resolved against the cwd or the `openat` directory fd.
//! Symbolic links other than those are not followed.

use crate::sys;
use libc::c_int;
use std::ffi::CString;
use uiommu_abi::host::Node;

/// The node `path` names, if it is one we serve, with `dir` the directory a relative path is
/// relative to (`None` for the cwd).
pub fn classify(dirfd: Option<c_int>, path: &[u8]) -> Option<Node> {
    if path.first() == Some(&b'/') {
        return node_of(&normalize(path));
    }
    // Cheap filter before resolving the directory: the last component must be a node's name.
    let last = path.rsplit(|&b| b == b'/').find(|c| !c.is_empty())?;
    if last != b"iommu" && last != b"vfio" {
        return None;
    }
    node_of(&normalize(&absolute(dirfd, path)?))
}

/// `path` made absolute: as it is, or relative to the directory of `dirfd` (`None`: the cwd).
pub fn absolute(dirfd: Option<c_int>, path: &[u8]) -> Option<Vec<u8>> {
    if path.first() == Some(&b'/') {
        return Some(path.to_vec());
    }
    let mut full = match dirfd {
        None => sys::getcwd()?,
        Some(fd) => match crate::vdir::path_of_fd(fd) {
            Some(dir) => dir.into_bytes(),
            None => sys::readlink(&CString::new(format!("/proc/self/fd/{fd}")).ok()?)?,
        },
    };
    full.push(b'/');
    full.extend_from_slice(path);
    Some(full)
}

/// The components of an absolute path after removing empty, `.` and `..` components.
fn normalize(path: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    parts
}

fn node_of(parts: &[&[u8]]) -> Option<Node> {
    match parts {
        [b"dev", b"iommu"] => Some(Node::Iommu),
        [b"dev", b"vfio", b"vfio"] => Some(Node::VfioContainer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        assert_eq!(classify(None, b"/dev/iommu"), Some(Node::Iommu));
        assert_eq!(classify(None, b"//dev/./iommu"), Some(Node::Iommu));
        assert_eq!(classify(None, b"/dev/x/../iommu"), Some(Node::Iommu));
        assert_eq!(classify(None, b"/dev/vfio/vfio"), Some(Node::VfioContainer));
        assert_eq!(classify(None, b"/dev/vfio/0"), None);
        assert_eq!(classify(None, b"/dev/iommu0"), None);
        assert_eq!(classify(None, b"/tmp/iommu"), None);
        assert_eq!(classify(None, b"/"), None);
    }

    #[test]
    fn relative_paths_are_filtered_by_name_first() {
        assert_eq!(classify(None, b"Cargo.toml"), None);
        assert_eq!(classify(None, b""), None);
    }
}
