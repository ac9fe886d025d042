//! The device name `VFIO_GROUP_GET_DEVICE_FD` takes: a string of at most a page
//! (`strndup_user`), matched against each member as vfio-pci does (`vfio_pci_core_match`):
//! the PCI name, then optionally spaces and one `vf_token=UUID`.

use super::GroupMember;
use crate::sriov::token::{self, Token};
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

/// `vfio_device_get_from_name`: the first member (of those registered: a VF while NumVFs
/// covers it) whose match is positive; a negative match ends the search with its error;
/// `ENODEV` if none matches.
pub(super) fn find(members: &[GroupMember], wanted: &[u8]) -> Result<usize> {
    let present = |m: &GroupMember| m.sriov.as_ref().is_none_or(|r| r.present());
    for (i, m) in members.iter().enumerate().filter(|(_, m)| present(m)) {
        if let Some(uuid) = matches(m.name.as_bytes(), wanted)? {
            token::check(m.sriov.as_ref(), uuid.as_ref())?;
            return Ok(i);
        }
    }
    Err(Errno::ENODEV)
}

/// `vfio_pci_core_match`'s parse: no match (`None`) unless `buf` starts with `name` and goes
/// on, if at all, with a space; then spaces and at most one `vf_token=` followed by a valid
/// UUID (`EINVAL` for a short or invalid one, or for anything else). A match gives the token,
/// if any, for `vfio_pci_core_match_token_uuid` ([`token::check`]).
fn matches(name: &[u8], buf: &[u8]) -> Result<Option<Option<Token>>> {
    let Some(mut rest) = buf.strip_prefix(name) else {
        return Ok(None);
    };
    if rest.first().is_some_and(|&b| b != b' ') {
        return Ok(None);
    }
    let mut token = None;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b' ' {
            rest = tail;
        } else if token.is_none() && rest.starts_with(VF_TOKEN) {
            let uuid = &rest[VF_TOKEN.len()..];
            if uuid.len() < UUID_LEN {
                return Err(Errno::EINVAL);
            }
            token = Some(token::parse(&uuid[..UUID_LEN])?);
            rest = &uuid[UUID_LEN..];
        } else {
            return Err(Errno::EINVAL);
        }
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "01234567-89ab-cdef-0123-456789ABCDEF";

    #[test]
    fn names_match_as_vfio_pci_matches_them() {
        let n = b"0000:00:10.0".as_slice();
        assert_eq!(matches(n, b"0000:00:10.0"), Ok(Some(None)));
        assert_eq!(matches(n, b"0000:00:10.0   "), Ok(Some(None)));
        assert_eq!(matches(n, b"0000:00:10.1"), Ok(None));
        assert_eq!(matches(n, b"0000:00:10.00"), Ok(None));
        assert_eq!(matches(n, b"0000:00:10"), Ok(None));
        assert_eq!(matches(n, b"0000:00:10.0 bogus"), Err(Errno::EINVAL));
        assert_eq!(
            matches(n, b"0000:00:10.0 vf_token=0123"),
            Err(Errno::EINVAL)
        );
        let bad = format!("0000:00:10.0 vf_token={}", UUID.replace('-', "x"));
        assert_eq!(matches(n, bad.as_bytes()), Err(Errno::EINVAL));
        // A valid token is parsed, in string order (then checked by the member's role).
        let ok = format!("0000:00:10.0 vf_token={UUID}");
        let bytes = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        assert_eq!(matches(n, ok.as_bytes()), Ok(Some(Some(bytes))));
        let twice = format!("{ok} vf_token={UUID}");
        assert_eq!(matches(n, twice.as_bytes()), Err(Errno::EINVAL));
    }

    /// An SR-IOV IOAT with 1 VF possible, as group members.
    fn sriov_members() -> (Vec<GroupMember>, std::sync::Arc<crate::sriov::SriovPf>) {
        use crate::sriov::{Functions, SriovRole};
        use std::sync::Arc;
        let iommu = uiommu_core::driver::default_model().create();
        let mut functions = Functions::default();
        let mut pf = None;
        let members = crate::placement::parse(["ioat,vfs=1"])
            .unwrap()
            .iter()
            .map(|p| {
                let spec = uiommu_core::iommu::DeviceSpec::default();
                let phys = Arc::new(iommu.clone().probe_device(spec).unwrap());
                let (function, role) = functions.create(p, phys).unwrap();
                if let Some(SriovRole::Pf(p)) = &role {
                    pf = Some(Arc::clone(p));
                }
                GroupMember {
                    name: p.bdf.to_string(),
                    function,
                    address: Default::default(),
                    sriov: role,
                }
            })
            .collect();
        (members, pf.unwrap())
    }

    #[test]
    fn a_vf_is_found_while_enabled_and_with_its_pfs_token() {
        let (members, pf) = sriov_members();
        let vf = |t: &str| {
            let name = if t.is_empty() {
                "0000:00:10.1".to_string()
            } else {
                format!("0000:00:10.1 vf_token={t}")
            };
            find(&members, name.as_bytes())
        };
        assert_eq!(vf(""), Err(Errno::ENODEV), "no VF enabled");
        pf.store_num_vfs(b"1").unwrap();
        assert_eq!(vf(""), Err(Errno::EACCES));
        let other = "00000000-0000-0000-0000-000000000000";
        assert_eq!(vf(other), Err(Errno::EACCES));
        // The PF takes the token it is opened with while no VF is in use.
        let named = format!("0000:00:10.0 vf_token={UUID}");
        assert_eq!(find(&members, named.as_bytes()), Ok(0));
        assert_eq!(vf(UUID), Ok(1));
        assert_eq!(find(&members, b"0000:00:10.0"), Ok(0));
    }
}
