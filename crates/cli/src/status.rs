//! A child's wait status as a shell reports it.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// The exit code a shell would give for `status`: the exit status, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => (c & 0xff) as u8,
        (None, Some(sig)) => (128 + sig).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_signals() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        // Killed by SIGSEGV with a core dump.
        assert_eq!(exit_code(ExitStatus::from_raw(11 | 0x80)), 139);
    }
}
