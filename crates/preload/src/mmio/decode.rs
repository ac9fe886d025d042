//! What the faulting instruction does to memory: the loads and stores of the `MOV` family that
//! a driver's MMIO accessors compile to, decoded with iced-x86. Everything else (string
//! moves, vector moves, read-modify-write arithmetic, locked operations) is `None`: the fault
//! is then not emulated and reaches the program as the `SIGSEGV` it is.

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

/// An emulable access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `size` bytes loaded into `dst`, extended to its width (`sign`: by `MOVSX`/`MOVSXD`).
    Load {
        /// The destination register.
        dst: Register,
        /// The bytes read.
        size: usize,
        /// Sign-extended (else zero-extended, when the register is wider).
        sign: bool,
    },
    /// `size` bytes of a register stored.
    StoreReg {
        /// The source register.
        src: Register,
        /// The bytes written.
        size: usize,
    },
    /// `size` bytes of an immediate stored.
    StoreImm {
        /// The value (sign-extended to 64 bits as the instruction extends it).
        value: u64,
        /// The bytes written.
        size: usize,
    },
}

/// The access `bytes` (the code at `rip`) makes and the instruction's length.
pub fn decode(bytes: &[u8], rip: u64) -> Option<(Access, usize)> {
    let mut d = Decoder::with_ip(64, bytes, rip, DecoderOptions::NONE);
    let i: Instruction = d.decode();
    if i.is_invalid() || i.has_lock_prefix() || i.has_rep_prefix() || i.has_repne_prefix() {
        return None;
    }
    let size = i.memory_size().size();
    if !matches!(size, 1 | 2 | 4 | 8) {
        return None;
    }
    let access = match (i.mnemonic(), i.op0_kind(), i.op1_kind()) {
        (Mnemonic::Mov | Mnemonic::Movzx, OpKind::Register, OpKind::Memory) => Access::Load {
            dst: gpr(i.op0_register())?,
            size,
            sign: false,
        },
        (Mnemonic::Movsx | Mnemonic::Movsxd, OpKind::Register, OpKind::Memory) => Access::Load {
            dst: gpr(i.op0_register())?,
            size,
            sign: true,
        },
        (Mnemonic::Mov, OpKind::Memory, OpKind::Register) => Access::StoreReg {
            src: gpr(i.op1_register())?,
            size,
        },
        (Mnemonic::Mov, OpKind::Memory, k) if is_immediate(k) => Access::StoreImm {
            value: i.immediate(1),
            size,
        },
        _ => return None,
    };
    Some((access, i.len()))
}

fn is_immediate(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Immediate8 | OpKind::Immediate16 | OpKind::Immediate32 | OpKind::Immediate32to64
    )
}

/// `r` if it is a general-purpose register (of any width, `AH`-`BH` included).
fn gpr(r: Register) -> Option<Register> {
    r.is_gpr().then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_stores_of_every_width_decode() {
        // mov eax, [rdi]
        assert_eq!(
            decode(&[0x8b, 0x07], 0),
            Some((
                Access::Load {
                    dst: Register::EAX,
                    size: 4,
                    sign: false
                },
                2
            ))
        );
        // movzx ecx, word [rsi+2]
        assert_eq!(
            decode(&[0x0f, 0xb7, 0x4e, 0x02], 0),
            Some((
                Access::Load {
                    dst: Register::ECX,
                    size: 2,
                    sign: false
                },
                4
            ))
        );
        // movsx rax, byte [rdi]
        assert_eq!(
            decode(&[0x48, 0x0f, 0xbe, 0x07], 0),
            Some((
                Access::Load {
                    dst: Register::RAX,
                    size: 1,
                    sign: true
                },
                4
            ))
        );
        // mov [rdi+0x80], rdx
        assert_eq!(
            decode(&[0x48, 0x89, 0x97, 0x80, 0, 0, 0], 0),
            Some((
                Access::StoreReg {
                    src: Register::RDX,
                    size: 8
                },
                7
            ))
        );
        // mov qword [rdi], -1
        assert_eq!(
            decode(&[0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff], 0),
            Some((
                Access::StoreImm {
                    value: u64::MAX,
                    size: 8
                },
                7
            ))
        );
        // mov byte [rdi], ah
        assert_eq!(
            decode(&[0x88, 0x27], 0),
            Some((
                Access::StoreReg {
                    src: Register::AH,
                    size: 1
                },
                2
            ))
        );
    }

    #[test]
    fn other_instructions_are_not_emulated() {
        // add [rdi], eax; rep movsb; movdqu xmm0, [rdi]; lock inc dword [rdi]
        assert_eq!(decode(&[0x01, 0x07], 0), None);
        assert_eq!(decode(&[0xf3, 0xa4], 0), None);
        assert_eq!(decode(&[0xf3, 0x0f, 0x6f, 0x07], 0), None);
        assert_eq!(decode(&[0xf0, 0xff, 0x07], 0), None);
        assert_eq!(decode(&[], 0), None);
    }
}
