//! The attribute files of a PCI device directory, formatted as `drivers/pci/pci-sysfs.c`
//! prints them.

use uiommu_devices::describe::{BarKind, Description};

/// `IORESOURCE_IO`, `IORESOURCE_MEM`, `IORESOURCE_PREFETCH`, `IORESOURCE_READONLY`,
/// `IORESOURCE_SIZEALIGN`, `IORESOURCE_MEM_64` (`include/linux/ioport.h`).
const IO: u64 = 0x100;
const MEM: u64 = 0x200;
const PREFETCH: u64 = 0x2000;
const READONLY: u64 = 0x4000;
const SIZEALIGN: u64 = 0x4_0000;
const MEM_64: u64 = 0x10_0000;

/// Lines of `resource` for a device without subordinate bus: the 6 BARs, the ROM and the 6
/// SR-IOV BARs (`PCI_BRIDGE_RESOURCES`).
const RESOURCE_LINES: usize = 13;

/// Where a device's windows go: host-like addresses (32-bit memory below the 4 GiB hole's
/// top, 64-bit memory high, I/O ports from 0xc000), one block per device by its index.
fn bases(index: u32) -> [u64; 3] {
    let i = u64::from(index);
    [
        0xf000_0000 + (i << 24),
        0x80_0000_0000 + (i << 32),
        0xc000 + (i << 8),
    ]
}

/// `resource`: one `start end flags` line per resource, zeros for the unimplemented ones.
pub fn resource(desc: &Description, index: u32) -> String {
    let [mut mem32, mut mem64, mut io] = bases(index);
    let place = |next: &mut u64, size: u64| {
        let start = next.next_multiple_of(size.max(1));
        *next = start + size;
        (start, start + size - 1)
    };
    let mut lines: Vec<(u64, u64, u64)> = desc
        .bars
        .iter()
        .map(|bar| match bar {
            None => (0, 0, 0),
            Some(b) => {
                let (next, flags) = match b.kind {
                    BarKind::Io => (&mut io, IO),
                    BarKind::Memory32 { prefetchable } => {
                        (&mut mem32, MEM | if prefetchable { PREFETCH } else { 0 })
                    }
                    BarKind::Memory64 { prefetchable } => (
                        &mut mem64,
                        MEM | MEM_64 | if prefetchable { PREFETCH } else { 0 },
                    ),
                };
                let (s, e) = place(next, b.size);
                (s, e, flags | SIZEALIGN)
            }
        })
        .collect();
    lines.push(match desc.rom_size {
        Some(size) => {
            let (s, e) = place(&mut mem32, u64::from(size));
            (s, e, MEM | PREFETCH | READONLY | SIZEALIGN)
        }
        None => (0, 0, 0),
    });
    lines.resize(RESOURCE_LINES, (0, 0, 0));
    lines
        .iter()
        .map(|(s, e, f)| format!("0x{s:016x} 0x{e:016x} 0x{f:016x}\n"))
        .collect()
}

/// The text attributes of a device directory, by file name.
pub fn text(desc: &Description, index: u32) -> Vec<(&'static str, String)> {
    vec![
        ("vendor", format!("0x{:04x}\n", desc.vendor_id)),
        ("device", format!("0x{:04x}\n", desc.device_id)),
        (
            "subsystem_vendor",
            format!("0x{:04x}\n", desc.subsystem_vendor_id),
        ),
        ("subsystem_device", format!("0x{:04x}\n", desc.subsystem_id)),
        ("class", format!("0x{:06x}\n", desc.class_code)),
        ("revision", format!("0x{:02x}\n", desc.revision)),
        // An interrupt line only with a pin (the legacy IRQ x86 routes INTx to).
        (
            "irq",
            format!("{}\n", if desc.interrupt_pin == 0 { 0 } else { 11 }),
        ),
        ("numa_node", "-1\n".to_string()),
        ("resource", resource(desc, index)),
    ]
}

/// The size of `config`: 4 KiB for PCI Express, 256 bytes otherwise.
pub fn config_size(desc: &Description) -> usize {
    if desc.is_express() { 4096 } else { 256 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edu_resource_is_one_32_bit_window_then_zeros() {
        let r = resource(&uiommu_devices::edu::description(), 0);
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines.len(), RESOURCE_LINES);
        assert_eq!(
            lines[0],
            "0x00000000f0000000 0x00000000f00fffff 0x0000000000040200"
        );
        assert!(
            lines[1..]
                .iter()
                .all(|l| *l == format!("0x{:016x} 0x{0:016x} 0x{0:016x}", 0))
        );
    }

    #[test]
    fn edu_identity() {
        let t = text(&uiommu_devices::edu::description(), 0);
        let get = |n| t.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(get("vendor"), "0x1234\n");
        assert_eq!(get("device"), "0x11e8\n");
        assert_eq!(get("class"), "0x00ff00\n");
    }
}
