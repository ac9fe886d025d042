//! The device name `VFIO_GROUP_GET_DEVICE_FD` takes: a string of at most a page
//! (`strndup_user`), matched against each member as vfio-pci does (`vfio_pci_core_match`):
//! the PCI name, then optionally spaces and one `vf_token=UUID`.

use super::GroupMember;
use uiommu_core::ioas::PAGE_SIZE;
use uiommu_uapi::errno::Result;
use uiommu_uapi::{Errno, UserMemory};

/// `VF_TOKEN_ARG`.
const VF_TOKEN: &[u8] = b"vf_token=";
/// `UUID_STRING_LEN`.
const UUID_LEN: usize = 36;

/// `strndup_user(arg, PAGE_SIZE)`: the bytes before the NUL; `EFAULT` if unreadable before
/// it, `EINVAL` if the first page's worth of bytes holds none.
pub(super) fn read(mem: &dyn UserMemory, arg: u64) -> Result<Vec<u8>> {
    let page = PAGE_SIZE;
    let mut out = Vec::new();
    let mut addr = arg;
    while out.len() < PAGE_SIZE as usize {
        // Up to the end of the page, and no further than the limit.
        let room = (page - addr % page).min((PAGE_SIZE as usize - out.len()) as u64);
        let mut chunk = vec![0u8; room as usize];
        mem.read(addr, &mut chunk)?;
        if let Some(end) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
        addr = addr.wrapping_add(room);
    }
    Err(Errno::EINVAL)
}

/// `vfio_device_get_from_name`: the first member whose match is positive; a negative match
/// ends the search with its error; `ENODEV` if none matches.
pub(super) fn find(members: &[GroupMember], wanted: &[u8]) -> Result<usize> {
    for (i, m) in members.iter().enumerate() {
        if matches(m.name.as_bytes(), wanted)? {
            return Ok(i);
        }
    }
    Err(Errno::ENODEV)
}

/// `vfio_pci_core_match`: no match unless `buf` starts with `name` and goes on, if at all,
/// with a space; then spaces and at most one `vf_token=` followed by a valid UUID (`EINVAL`
/// for a short or invalid one, or for anything else). A token is then refused (`EINVAL`):
/// no member is an SR-IOV function (`vfio_pci_core_match_token_uuid`).
fn matches(name: &[u8], buf: &[u8]) -> Result<bool> {
    let Some(mut rest) = buf.strip_prefix(name) else {
        return Ok(false);
    };
    if rest.first().is_some_and(|&b| b != b' ') {
        return Ok(false);
    }
    let mut token = false;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b' ' {
            rest = tail;
        } else if !token && rest.starts_with(VF_TOKEN) {
            let uuid = &rest[VF_TOKEN.len()..];
            if uuid.len() < UUID_LEN || !uuid_is_valid(&uuid[..UUID_LEN]) {
                return Err(Errno::EINVAL);
            }
            token = true;
            rest = &uuid[UUID_LEN..];
        } else {
            return Err(Errno::EINVAL);
        }
    }
    if token {
        return Err(Errno::EINVAL);
    }
    Ok(true)
}

/// `uuid_is_valid`: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
fn uuid_is_valid(s: &[u8]) -> bool {
    s.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "01234567-89ab-cdef-0123-456789ABCDEF";

    #[test]
    fn names_match_as_vfio_pci_matches_them() {
        let n = b"0000:00:10.0".as_slice();
        assert_eq!(matches(n, b"0000:00:10.0"), Ok(true));
        assert_eq!(matches(n, b"0000:00:10.0   "), Ok(true));
        assert_eq!(matches(n, b"0000:00:10.1"), Ok(false));
        assert_eq!(matches(n, b"0000:00:10.00"), Ok(false));
        assert_eq!(matches(n, b"0000:00:10"), Ok(false));
        assert_eq!(matches(n, b"0000:00:10.0 bogus"), Err(Errno::EINVAL));
        assert_eq!(
            matches(n, b"0000:00:10.0 vf_token=0123"),
            Err(Errno::EINVAL)
        );
        let bad = format!("0000:00:10.0 vf_token={}", UUID.replace('-', "x"));
        assert_eq!(matches(n, bad.as_bytes()), Err(Errno::EINVAL));
        // A valid token is parsed, then refused: the function is no SR-IOV function.
        let ok = format!("0000:00:10.0 vf_token={UUID}");
        assert_eq!(matches(n, ok.as_bytes()), Err(Errno::EINVAL));
        let twice = format!("{ok} vf_token={UUID}");
        assert_eq!(matches(n, twice.as_bytes()), Err(Errno::EINVAL));
    }
}
