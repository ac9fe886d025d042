//! The seccomp-bpf filter the traced program runs under: `SECCOMP_RET_TRACE` for the calls of
//! [`arch::WATCHED`] (each a `PTRACE_EVENT_SECCOMP` stop in the tracer), `SECCOMP_RET_ALLOW`
//! for every other, so that the program's other system calls run at full speed
//! (`Documentation/userspace-api/seccomp_filter.rst`). A filter is inherited across fork,
//! clone and execve, so it covers every process the program starts.
//!
//! With no tracer attached a `SECCOMP_RET_TRACE` call fails with `ENOSYS`; the program is
//! traced with `PTRACE_O_EXITKILL` before it executes, so it never runs untraced.

use super::arch;

/// `offsetof(struct seccomp_data, nr)` and `arch`.
const NR: u32 = 0;
const ARCH: u32 = 4;

/// The filter: x86-64 calls of [`arch::WATCHED`] are traced, the others allowed.
pub fn filter() -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let n = arch::WATCHED.len();
    // Layout: [0] load arch, [1] arch?, [2] load nr, [3] x32?, [4..4+n) each watched number,
    // [4+n] allow, [5+n] trace. A jump's offset counts from the next instruction.
    let allow_from = |at: usize| (4 + n - at - 1) as u8;
    let mut f = vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, ARCH),
        jeq(arch::AUDIT_ARCH, 0, allow_from(1)),
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, NR),
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16,
            jt: allow_from(3),
            jf: 0,
            k: arch::X32_BIT,
        },
    ];
    for (i, &nr) in arch::WATCHED.iter().enumerate() {
        let at = 4 + i;
        // To the trace return: past the rest of the list and the allow return.
        f.push(jeq(nr as u32, (n - i) as u8, 0));
        debug_assert_eq!(f.len(), at + 1);
    }
    f.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    f.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_TRACE));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter on one `seccomp_data`'s `arch` and `nr` as the kernel's BPF
    /// interpreter would (the few instructions it uses).
    fn run(f: &[libc::sock_filter], a: u32, nr: u32) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = f[pc];
            let code = u32::from(i.code);
            pc += 1;
            if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                acc = if i.k == ARCH { a } else { nr };
            } else if code == libc::BPF_RET | libc::BPF_K {
                return i.k;
            } else {
                let hit = if code & 0xf0 == libc::BPF_JSET {
                    acc & i.k != 0
                } else {
                    acc == i.k
                };
                pc += usize::from(if hit { i.jt } else { i.jf });
            }
        }
    }

    #[test]
    fn watched_calls_are_traced_and_the_others_allowed() {
        let f = filter();
        for &nr in arch::WATCHED {
            assert_eq!(
                run(&f, arch::AUDIT_ARCH, nr as u32),
                libc::SECCOMP_RET_TRACE
            );
            assert_eq!(
                run(&f, arch::AUDIT_ARCH, nr as u32 | arch::X32_BIT),
                libc::SECCOMP_RET_ALLOW
            );
            assert_eq!(run(&f, 0x4000_0003, nr as u32), libc::SECCOMP_RET_ALLOW);
        }
        for nr in [39, 59, 60, 231] {
            assert_eq!(run(&f, arch::AUDIT_ARCH, nr), libc::SECCOMP_RET_ALLOW);
        }
    }
}
