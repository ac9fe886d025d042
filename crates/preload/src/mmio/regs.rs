//! The general-purpose registers of an interrupted thread as its signal frame holds them
//! (`mcontext_t.gregs`), read and written at any width as x86-64 does: a 32-bit destination
//! clears bits 63:32, an 8- or 16-bit one keeps the rest, `AH`-`BH` are bits 15:8.

use iced_x86::Register;

/// The saved registers, indexed by `REG_*`.
pub type Gregs = [i64; 23];

/// The `gregs` index of a 64-bit register.
fn index(full: Register) -> Option<usize> {
    let i = match full {
        Register::RAX => libc::REG_RAX,
        Register::RBX => libc::REG_RBX,
        Register::RCX => libc::REG_RCX,
        Register::RDX => libc::REG_RDX,
        Register::RSI => libc::REG_RSI,
        Register::RDI => libc::REG_RDI,
        Register::RBP => libc::REG_RBP,
        Register::RSP => libc::REG_RSP,
        Register::R8 => libc::REG_R8,
        Register::R9 => libc::REG_R9,
        Register::R10 => libc::REG_R10,
        Register::R11 => libc::REG_R11,
        Register::R12 => libc::REG_R12,
        Register::R13 => libc::REG_R13,
        Register::R14 => libc::REG_R14,
        Register::R15 => libc::REG_R15,
        _ => return None,
    };
    usize::try_from(i).ok()
}

/// True for `AH`, `CH`, `DH`, `BH`.
fn high_byte(r: Register) -> bool {
    matches!(r, Register::AH | Register::CH | Register::DH | Register::BH)
}

/// The value of `r` (zero-extended to 64 bits).
pub fn read(g: &Gregs, r: Register) -> Option<u64> {
    let full = g[index(r.full_register())?] as u64;
    Some(match r.size() {
        _ if high_byte(r) => (full >> 8) & 0xff,
        8 => full,
        n => full & ((1u64 << (n * 8)) - 1),
    })
}

/// Writes `value` (already extended to the register's width) into `r`.
pub fn write(g: &mut Gregs, r: Register, value: u64) -> Option<()> {
    let slot = &mut g[index(r.full_register())?];
    let old = *slot as u64;
    let new = match r.size() {
        _ if high_byte(r) => (old & !0xff00) | ((value & 0xff) << 8),
        8 => value,
        4 => value & 0xffff_ffff,
        n => {
            let mask = (1u64 << (n * 8)) - 1;
            (old & !mask) | (value & mask)
        }
    };
    *slot = new as i64;
    Some(())
}

/// `size` little-endian bytes of `raw` extended to 64 bits.
pub fn extend(raw: u64, size: usize, sign: bool) -> u64 {
    let bits = size as u32 * 8;
    if bits >= 64 {
        return raw;
    }
    let v = raw & ((1u64 << bits) - 1);
    if sign && v >> (bits - 1) & 1 == 1 {
        v | !((1u64 << bits) - 1)
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_x86_64() {
        let mut g: Gregs = [0; 23];
        let rax = libc::REG_RAX as usize;
        g[rax] = -1;
        write(&mut g, Register::EAX, 0x1234).unwrap();
        assert_eq!(g[rax], 0x1234, "a 32-bit write clears the top half");
        write(&mut g, Register::AH, 0xab).unwrap();
        assert_eq!(g[rax], 0xab34);
        write(&mut g, Register::AX, 0xffff_0001).unwrap();
        assert_eq!(g[rax], 0x0001);
        g[rax] = -1;
        write(&mut g, Register::AL, 0).unwrap();
        assert_eq!(g[rax], !0xff);
        assert_eq!(read(&g, Register::AH), Some(0xff));
        assert_eq!(read(&g, Register::AL), Some(0));
        assert_eq!(read(&g, Register::R9D), Some(0));
        assert_eq!(extend(0x80, 1, true), 0xffff_ffff_ffff_ff80);
        assert_eq!(extend(0x80, 1, false), 0x80);
        assert_eq!(extend(0x8000_0000, 4, true) as i64, -0x8000_0000);
        assert_eq!(read(&g, Register::XMM0), None);
    }
}
