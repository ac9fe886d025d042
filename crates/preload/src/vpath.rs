//! Which paths name the emulated devices' sysfs and `/dev` entries ([`crate::emulated::tree`]).
//!
//! A path is walked component by component (lexically for `.` and `..`, as [`crate::path`]
//! does), following the tree's symbolic links where the kernel would follow a link: always
//! before the last component, and at the last one unless the call asks not to. The walk ends:
//! - on an entry of the tree that the host lacks: ours to answer;
//! - on a directory of both, or on a host path reached through one of our links: the host's,
//!   under the path the walk reached (the caller forwards the call with it);
//! - elsewhere: not ours (the caller forwards the call unchanged).

use crate::sys::{self, Errno};
use crate::{emulated, path};
use libc::c_int;
use std::ffi::CString;
use uiommu_abi::sysfs::Node;

/// Links followed in one walk before `ELOOP` (the kernel's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Where a path leads.
pub enum Target {
    /// An entry only the tree has, at this normalised path.
    Virtual(String, &'static Node),
    /// A host path: the call goes to the host with it.
    Real(CString),
}

/// Where `path` (relative to `dirfd`, `None` for the cwd) leads, following a final link if
/// `follow`; `None` if it is not ours at all.
pub fn resolve(dirfd: Option<c_int>, path: &[u8], follow: bool) -> Option<Result<Target, Errno>> {
    if path.is_empty() {
        return None;
    }
    if path[0] == b'/' && !(path.starts_with(b"/sys") || path.starts_with(b"/dev")) {
        return None;
    }
    let tree = emulated::tree()?;
    let abs = path::absolute(dirfd, path)?;
    let abs = std::str::from_utf8(&abs).ok()?;
    let (reached, crossed) = match walk(abs, follow, |p| match tree.get(p) {
        Some(Node::Link(t)) => Some(t.as_str()),
        _ => None,
    }) {
        Ok(w) => w,
        Err(e) => return Some(Err(e)),
    };
    let target = match tree.get(&reached) {
        Some(Node::Dir) if exists(&reached) => Target::Real(CString::new(reached).ok()?),
        Some(node) => Target::Virtual(reached, node),
        None if crossed => Target::Real(CString::new(reached).ok()?),
        None => return None,
    };
    Some(Ok(target))
}

fn exists(path: &str) -> bool {
    CString::new(path).is_ok_and(|p| sys::lstat_type(&p).is_ok())
}

/// Walks absolute `path`, replacing each component that `link` names a link by its target;
/// the path reached and whether a link was followed.
fn walk<'t>(
    path: &str,
    follow: bool,
    link: impl Fn(&str) -> Option<&'t str>,
) -> Result<(String, bool), Errno> {
    // Components still to walk, the next one last.
    let mut pending: Vec<String> = path.split('/').rev().map(String::from).collect();
    let mut at: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                at.pop();
                continue;
            }
            _ => at.push(c),
        }
        let here = join(&at);
        let Some(target) = link(&here) else { continue };
        // A link with anything after it, even a trailing `/`, is followed.
        if pending.is_empty() && !follow {
            break;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(libc::ELOOP);
        }
        at.pop();
        if target.starts_with('/') {
            at.clear();
        }
        pending.extend(target.split('/').rev().map(String::from));
    }
    Ok((join(&at), links > 0))
}

fn join(parts: &[String]) -> String {
    if parts.is_empty() {
        return "/".into();
    }
    parts.iter().fold(String::new(), |mut s, p| {
        s.push('/');
        s.push_str(p);
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(p: &str) -> Option<&'static str> {
        match p {
            "/sys/bus/pci/devices/d" => Some("../../../devices/pci0000:00/d"),
            "/sys/devices/pci0000:00/d/group" => Some("../../../kernel/iommu_groups/7"),
            "/loop" => Some("/loop"),
            _ => None,
        }
    }

    #[test]
    fn links_are_followed_inside_and_at_the_end_if_asked() {
        let w = |p, follow| walk(p, follow, links).unwrap();
        assert_eq!(
            w("/sys/bus/pci/devices/d/vendor", false),
            ("/sys/devices/pci0000:00/d/vendor".into(), true)
        );
        assert_eq!(
            w("/sys/bus/pci/devices/d", false),
            ("/sys/bus/pci/devices/d".into(), false)
        );
        assert_eq!(
            w("/sys/bus/pci/devices/d/", false),
            ("/sys/devices/pci0000:00/d".into(), true)
        );
        assert_eq!(
            w("//sys/bus/pci/devices/./d/group/", true),
            ("/sys/kernel/iommu_groups/7".into(), true)
        );
        assert_eq!(w("/sys/bus/../bus", true), ("/sys/bus".into(), false));
        assert_eq!(w("/", true), ("/".into(), false));
        assert_eq!(walk("/loop", true, links), Err(libc::ELOOP));
    }
}
