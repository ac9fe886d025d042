//! The VF token (`drivers/vfio/pci/vfio_pci_core.c`): the UUID a user of a VF must show to
//! prove it collaborates with the user of its PF (`vfio_pci_core_match_token_uuid`), set by
//! the PF's user (`VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`: `vfio_pci_core_feature_token`; or the
//! token given when opening a PF whose VFs nobody uses), and the count of VFs open
//! (`vf_token->users`). The token belongs to the PF's binding to vfio-pci, not to an open
//! file: it outlives the PF's close.

use super::{SriovPf, SriovRole};
use std::hash::{BuildHasher, Hasher};
use uiommu_uapi::Errno;
use uiommu_uapi::errno::Result;

/// A VF token: a UUID's 16 bytes in string order (`uuid_t`).
pub type Token = [u8; 16];

/// `uuid_gen`: a random version-4 UUID (RFC 4122 §4.4), from the standard library's
/// per-process random hash keys.
pub(super) fn generate() -> Token {
    let mut bytes = [0u8; 16];
    for (i, half) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

/// `uuid_parse`: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits, its bytes in string
/// order; `EINVAL` otherwise (`uuid_is_valid`).
pub fn parse(s: &[u8]) -> Result<Token> {
    let valid = s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if !valid {
        return Err(Errno::EINVAL);
    }
    let digits: Vec<u8> = s
        .iter()
        .filter(|&&c| c != b'-')
        .map(|&c| (c as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    Ok(out)
}

/// `vfio_pci_core_match_token_uuid` for a function of `role` (none: neither PF nor VF) given
/// `uuid`, in the kernel's order:
/// - a VF (whose PF is always vfio-pci's here): `EACCES` without a token or with another
///   than the PF's;
/// - a PF with VFs in use: `EACCES` without a token or with another; without VF users a
///   given token becomes the PF's;
/// - any other function: `EINVAL` for a token.
pub fn check(role: Option<&SriovRole>, uuid: Option<&Token>) -> Result<()> {
    match role {
        Some(SriovRole::Vf(pf, _)) => {
            let uuid = uuid.ok_or(Errno::EACCES)?;
            if pf.lock().token != *uuid {
                return Err(Errno::EACCES);
            }
            Ok(())
        }
        Some(SriovRole::Pf(pf)) => {
            let mut state = pf.lock();
            if state.users > 0 {
                let uuid = uuid.ok_or(Errno::EACCES)?;
                if state.token != *uuid {
                    return Err(Errno::EACCES);
                }
            } else if let Some(uuid) = uuid {
                state.token = *uuid;
            }
            Ok(())
        }
        None if uuid.is_some() => Err(Errno::EINVAL),
        None => Ok(()),
    }
}

/// `vfio_pci_core_finish_enable`: an opened VF counts as a user of its PF's token.
pub fn opened(role: Option<&SriovRole>) {
    if let Some(SriovRole::Vf(pf, _)) = role {
        pf.lock().users += 1;
    }
}

/// `vfio_pci_core_close_device`: a closed VF no longer does.
pub fn closed(role: Option<&SriovRole>) {
    if let Some(SriovRole::Vf(pf, _)) = role {
        let mut state = pf.lock();
        state.users = state.users.saturating_sub(1);
    }
}

impl SriovPf {
    /// `vfio_pci_core_feature_token`'s SET: the PF's token becomes `uuid`.
    pub fn set_token(&self, uuid: Token) {
        self.lock().token = uuid;
    }

    /// `vf_token->users`.
    pub fn users(&self) -> u32 {
        self.lock().users
    }
}
