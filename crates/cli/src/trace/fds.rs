//! Which of a tracee's file descriptors are IOMMU/VFIO files, and what kind.
//!
//! A file is known by its `/proc/PID/fd/N` link (`proc(5)`): the node's path for an opened
//! node, `anon_inode:[NAME]` for the anonymous files the kernel hands out (Linux 7.3:
//! `drivers/vfio/group.c` names a group's device file `[vfio-device]`;
//! `drivers/iommu/iommufd/eventq.c` names a fault queue `[iommufd-pgfault]` and a vEVENTQ
//! `[iommufd-viommu-event]`). The tables follow the descriptors a program makes from there:
//! each open, dup/dup2/dup3/`F_DUPFD`, fd-returning ioctl, close and `close_range` is seen at
//! its exit; fork copies the table, a thread shares it, and execve reads it afresh from
//! `/proc` (the descriptors `O_CLOEXEC` closed are gone then). Descriptors that arrive by
//! other ways (`SCM_RIGHTS`, `pidfd_getfd`) are not followed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;
use uiommu_uapi::catalog::FileKind;
use uiommu_uapi::trace::Payload;

/// What a traced descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A file whose ioctls the catalog decodes.
    File(FileKind),
    /// An iommufd event queue, read and written, no ioctls: a fault queue, or a vEVENTQ (of
    /// the type its `IOMMU_VEVENTQ_ALLOC` asked for, `u32::MAX` if the tracer did not see it).
    Queue(Payload),
}

/// Paths to take for IOMMU/VFIO nodes besides the real ones: a test aid (the hidden
/// `--test-node PATH=KIND` of `uiommu trace`), so that a host without `/dev/iommu` can see
/// its calls decoded, answered by whatever file PATH really is.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    pub extra: Vec<(Vec<u8>, FileKind)>,
}

impl Classifier {
    /// The kind of the file `link` names (a path, or a `/proc/PID/fd` link's text).
    pub fn classify(&self, link: &[u8]) -> Option<Node> {
        if let Some((_, k)) = self.extra.iter().find(|(p, _)| p == link) {
            return Some(Node::File(*k));
        }
        let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        let file = |k| Some(Node::File(k));
        match link {
            b"/dev/iommu" => file(FileKind::Iommufd),
            b"/dev/vfio/vfio" => file(FileKind::Container),
            b"anon_inode:[vfio-device]" => file(FileKind::Device),
            b"anon_inode:[iommufd-pgfault]" => Some(Node::Queue(Payload::Fault)),
            b"anon_inode:[iommufd-viommu-event]" => Some(Node::Queue(Payload::Veventq(u32::MAX))),
            _ => {
                let group = link.strip_prefix(b"/dev/vfio/")?;
                if let Some(cdev) = group.strip_prefix(b"devices/") {
                    let n = cdev.strip_prefix(b"noiommu-").unwrap_or(cdev);
                    return n
                        .strip_prefix(b"vfio")
                        .filter(|n| digits(n))
                        .and(file(FileKind::Device));
                }
                let n = group.strip_prefix(b"noiommu-").unwrap_or(group);
                digits(n).then_some(Node::File(FileKind::Group))
            }
        }
    }
}

/// `KIND` of `--test-node PATH=KIND`.
pub fn parse_kind(s: &str) -> Option<FileKind> {
    Some(match s {
        "iommufd" => FileKind::Iommufd,
        "container" => FileKind::Container,
        "group" => FileKind::Group,
        "device" => FileKind::Device,
        _ => return None,
    })
}

/// `path` made absolute against `base` (the cwd or the directory fd's link) and normalised
/// lexically (`.`, `..` and repeated slashes), as a first guess of the node an open names
/// before it has a descriptor to look at. Symbolic links are not followed.
pub fn absolute(base: Option<&[u8]>, path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let joined = match (path.first(), base) {
        (Some(b'/'), _) | (_, None) => [&b"/"[..], path].concat(),
        (_, Some(b)) => [b, b"/", path].concat(),
    };
    for p in joined.split(|&c| c == b'/') {
        match p {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The text of `/proc/PID/<rel>` (`cwd`, `fd/N`), if it can be read.
pub fn link(pid: i32, rel: &str) -> Option<Vec<u8>> {
    let l = std::fs::read_link(format!("/proc/{pid}/{rel}")).ok()?;
    Some(l.as_os_str().as_bytes().to_vec())
}

/// One process's descriptor table (shared by its threads).
pub type Table = Rc<RefCell<HashMap<i32, Node>>>;

/// The IOMMU/VFIO descriptors process `pid` has now, read from `/proc/PID/fd`.
pub fn scan(pid: i32, c: &Classifier) -> Table {
    let mut t = HashMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            let fd = OsStr::as_bytes(&e.file_name()).to_vec();
            let Some(fd) = std::str::from_utf8(&fd).ok().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(n) = std::fs::read_link(e.path())
                .ok()
                .and_then(|l| c.classify(l.as_os_str().as_bytes()))
            {
                t.insert(fd, n);
            }
        }
    }
    Rc::new(RefCell::new(t))
}

/// What `fd` of `pid` is now, by its link.
pub fn probe(pid: i32, fd: i64, c: &Classifier) -> Option<Node> {
    c.classify(&link(pid, &format!("fd/{fd}"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_anonymous_files_by_their_links() {
        let c = Classifier::default();
        let k = |s: &str| c.classify(s.as_bytes());
        assert_eq!(k("/dev/iommu"), Some(Node::File(FileKind::Iommufd)));
        assert_eq!(k("/dev/vfio/vfio"), Some(Node::File(FileKind::Container)));
        assert_eq!(k("/dev/vfio/12"), Some(Node::File(FileKind::Group)));
        assert_eq!(k("/dev/vfio/noiommu-0"), Some(Node::File(FileKind::Group)));
        assert_eq!(
            k("/dev/vfio/devices/vfio3"),
            Some(Node::File(FileKind::Device))
        );
        assert_eq!(
            k("/dev/vfio/devices/noiommu-vfio0"),
            Some(Node::File(FileKind::Device))
        );
        assert_eq!(
            k("anon_inode:[vfio-device]"),
            Some(Node::File(FileKind::Device))
        );
        assert_eq!(
            k("anon_inode:[iommufd-pgfault]"),
            Some(Node::Queue(Payload::Fault))
        );
        for no in [
            "/dev/null",
            "/dev/vfio",
            "/dev/vfio/",
            "/dev/vfio/devices/vfio",
            "/dev/vfio/devices/x",
            "/dev/vfio/1a",
            "anon_inode:[eventfd]",
        ] {
            assert_eq!(k(no), None, "{no}");
        }
        let t = Classifier {
            extra: vec![(b"/dev/null".to_vec(), FileKind::Iommufd)],
        };
        assert_eq!(
            t.classify(b"/dev/null"),
            Some(Node::File(FileKind::Iommufd))
        );
        assert_eq!(parse_kind("group"), Some(FileKind::Group));
        assert_eq!(parse_kind("fault"), None);
    }

    #[test]
    fn relative_paths_resolve_lexically() {
        assert_eq!(absolute(Some(b"/dev"), b"iommu"), b"/dev/iommu");
        assert_eq!(absolute(Some(b"/tmp"), b"/dev//iommu"), b"/dev/iommu");
        assert_eq!(
            absolute(Some(b"/dev/vfio/devices"), b"../vfio"),
            b"/dev/vfio/vfio"
        );
        assert_eq!(absolute(None, b"./../dev/./iommu"), b"/dev/iommu");
        assert_eq!(absolute(None, b".."), b"/");
    }

    #[test]
    fn a_scan_finds_this_process_s_files() {
        let c = Classifier {
            extra: vec![(b"/dev/null".to_vec(), FileKind::Container)],
        };
        let null = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsRawFd;
        let fd = null.as_raw_fd();
        let pid = std::process::id() as i32;
        assert_eq!(
            scan(pid, &c).borrow().get(&fd),
            Some(&Node::File(FileKind::Container))
        );
        assert_eq!(
            probe(pid, fd.into(), &c),
            Some(Node::File(FileKind::Container))
        );
        assert_eq!(probe(pid, fd.into(), &Classifier::default()), None);
    }
}
