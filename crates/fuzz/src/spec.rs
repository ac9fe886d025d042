//! The commands the fuzzer calls, each with its ioctl number, its struct's size, minimum size
//! and C fields (from the uAPI layout tables the ABI test checks against the kernel headers),
//! and the `IOMMU_TEST_CMD` union members by operation.

use std::sync::OnceLock;
use uiommu_abi::iommufd_ioctls;
use uiommu_uapi::layout::{FieldLayout, StructLayout};
use uiommu_uapi::vfio::*;

/// One command.
#[derive(Debug, Clone)]
pub struct Command {
    /// The ioctl macro's name.
    pub name: &'static str,
    /// The full ioctl number.
    pub cmd: u32,
    /// `sizeof` its struct (0 for a command whose argument is a value or unused).
    pub size: usize,
    /// The smallest size the kernel accepts.
    pub min_size: usize,
    /// Its C fields, by offset.
    pub fields: &'static [FieldLayout],
    /// The argument is a plain value, not a pointer.
    pub value_arg: bool,
    /// How often it is drawn, relative to the others.
    pub weight: u32,
    /// The file it is made on.
    pub target: Target,
}

/// The file a command is made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The context's `/dev/iommu` (or `/dev/vfio/vfio`): `ioctl(2)`.
    Iommufd,
    /// The emulated function's VFIO device file (`/dev/vfio/devices/vfioN`): `ioctl(2)`.
    Device,
    /// The device file's regions: `pread(2)` or `pwrite(2)` of a [`RegionAccess`].
    DeviceRegion {
        /// `pwrite` rather than `pread`.
        write: bool,
    },
}

/// The argument of [`Target::DeviceRegion`] commands, not a uAPI struct: `pread`/`pwrite`
/// of `len` bytes at file offset `offset` (region index above `REGION_SHIFT`) from or to
/// the buffer at `buf`, or, if `buf` is 0, the field `data` itself.
pub const REGION_ACCESS: [FieldLayout; 4] = [
    FieldLayout {
        c_path: "offset",
        offset: 0,
        size: 8,
    },
    FieldLayout {
        c_path: "len",
        offset: 8,
        size: 8,
    },
    FieldLayout {
        c_path: "buf",
        offset: 16,
        size: 8,
    },
    FieldLayout {
        c_path: "data",
        offset: 24,
        size: 8,
    },
];

/// The device file's `pread` (`DEVICE_PREAD`) and `pwrite` (`DEVICE_PWRITE`).
pub const DEVICE_PREAD: &str = "DEVICE_PREAD";
/// See [`DEVICE_PREAD`].
pub const DEVICE_PWRITE: &str = "DEVICE_PWRITE";

/// Every command, iommufd's, then the VFIO container's, then the VFIO device file's.
pub fn commands() -> &'static [Command] {
    static TABLE: OnceLock<Vec<Command>> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// The command called `name`.
pub fn command(name: &str) -> Option<&'static Command> {
    commands().iter().find(|c| c.name == name)
}

fn layout(c_name: &str) -> Option<&'static StructLayout> {
    uiommu_uapi::iommufd::STRUCT_TABLES
        .iter()
        .chain(uiommu_uapi::vfio::STRUCT_TABLES)
        .chain(uiommu_uapi::selftest::STRUCT_TABLES)
        .flat_map(|t| t.iter())
        .find(|l| l.c_name == c_name)
}

/// The C struct of an iommufd command whose name does not spell it.
fn c_struct(name: &str) -> String {
    match name {
        "IOMMU_GET_HW_INFO" => "iommu_hw_info".into(),
        "IOMMU_FAULT_QUEUE_ALLOC" => "iommu_fault_alloc".into(),
        _ => name.to_lowercase(),
    }
}

/// How often the commands that build and change address spaces are drawn. In a sequence
/// without a device, the device's commands are not drawn at all.
fn weight(name: &str) -> u32 {
    match name {
        "IOMMU_IOAS_MAP" | "IOMMU_TEST_CMD" | DEVICE_PWRITE => 12,
        DEVICE_PREAD | "VFIO_DEVICE_SET_IRQS" => 6,
        "IOMMU_IOAS_UNMAP" | "IOMMU_IOAS_COPY" | "VFIO_IOMMU_MAP_DMA" => 6,
        "IOMMU_IOAS_ALLOC" | "IOMMU_DESTROY" | "IOMMU_HWPT_ALLOC" | "VFIO_IOMMU_UNMAP_DMA" => 4,
        _ => 1,
    }
}

fn build() -> Vec<Command> {
    let mut out = Vec::new();
    for (cmd, op) in iommufd_ioctls() {
        let fields = layout(&c_struct(op.name)).map_or(&[][..], |l| l.fields);
        out.push(Command {
            name: op.name,
            cmd,
            size: op.size,
            min_size: op.min_size,
            fields,
            value_arg: false,
            weight: weight(op.name),
            target: Target::Iommufd,
        });
    }
    let vfio: [(&'static str, u32, &str, usize, bool); 7] = [
        ("VFIO_GET_API_VERSION", VFIO_GET_API_VERSION, "", 0, true),
        ("VFIO_CHECK_EXTENSION", VFIO_CHECK_EXTENSION, "", 0, true),
        ("VFIO_SET_IOMMU", VFIO_SET_IOMMU, "", 0, true),
        (
            "VFIO_IOMMU_GET_INFO",
            VFIO_IOMMU_GET_INFO,
            "vfio_iommu_type1_info",
            16,
            false,
        ),
        (
            "VFIO_IOMMU_MAP_DMA",
            VFIO_IOMMU_MAP_DMA,
            "vfio_iommu_type1_dma_map",
            32,
            false,
        ),
        (
            "VFIO_IOMMU_UNMAP_DMA",
            VFIO_IOMMU_UNMAP_DMA,
            "vfio_iommu_type1_dma_unmap",
            24,
            false,
        ),
        (
            "VFIO_IOMMU_DIRTY_PAGES",
            VFIO_IOMMU_DIRTY_PAGES,
            "vfio_iommu_type1_dirty_bitmap",
            8,
            false,
        ),
    ];
    for (name, cmd, c_name, min_size, value_arg) in vfio {
        let l = layout(c_name);
        out.push(Command {
            name,
            cmd,
            size: l.map_or(0, |l| l.size),
            min_size,
            fields: l.map_or(&[][..], |l| l.fields),
            value_arg,
            weight: weight(name),
            target: Target::Iommufd,
        });
    }
    let device: [(&'static str, u32, &str); 10] = [
        (
            "VFIO_DEVICE_BIND_IOMMUFD",
            VFIO_DEVICE_BIND_IOMMUFD,
            "vfio_device_bind_iommufd",
        ),
        (
            "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
            VFIO_DEVICE_ATTACH_IOMMUFD_PT,
            "vfio_device_attach_iommufd_pt",
        ),
        (
            "VFIO_DEVICE_DETACH_IOMMUFD_PT",
            VFIO_DEVICE_DETACH_IOMMUFD_PT,
            "vfio_device_detach_iommufd_pt",
        ),
        (
            "VFIO_DEVICE_GET_INFO",
            VFIO_DEVICE_GET_INFO,
            "vfio_device_info",
        ),
        (
            "VFIO_DEVICE_GET_REGION_INFO",
            VFIO_DEVICE_GET_REGION_INFO,
            "vfio_region_info",
        ),
        (
            "VFIO_DEVICE_GET_IRQ_INFO",
            VFIO_DEVICE_GET_IRQ_INFO,
            "vfio_irq_info",
        ),
        ("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS, "vfio_irq_set"),
        ("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET, ""),
        (
            "VFIO_DEVICE_FEATURE",
            VFIO_DEVICE_FEATURE,
            "vfio_device_feature",
        ),
        (
            "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
            VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
            "vfio_pci_hot_reset_info",
        ),
    ];
    for (name, cmd, c_name) in device {
        let l = layout(c_name);
        let size = l.map_or(0, |l| l.size);
        out.push(Command {
            name,
            cmd,
            size,
            min_size: device_minsz(c_name).min(size),
            fields: l.map_or(&[][..], |l| l.fields),
            value_arg: c_name.is_empty(),
            weight: weight(name),
            target: Target::Device,
        });
    }
    for (name, write) in [(DEVICE_PREAD, false), (DEVICE_PWRITE, true)] {
        out.push(Command {
            name,
            cmd: 0,
            size: 32,
            min_size: 32,
            fields: &REGION_ACCESS,
            value_arg: false,
            weight: weight(name),
            target: Target::DeviceRegion { write },
        });
    }
    out
}

/// The `minsz` the device file's handler checks `argsz` against: the end of the last field
/// every version of the struct has.
fn device_minsz(c_name: &str) -> usize {
    match c_name {
        "vfio_device_bind_iommufd" => 16,
        "vfio_device_attach_iommufd_pt" => 12,
        "vfio_device_detach_iommufd_pt" | "vfio_device_feature" => 8,
        "vfio_device_info" | "vfio_irq_info" => 16,
        "vfio_region_info" => 32,
        "vfio_irq_set" => 20,
        "vfio_pci_hot_reset_info" => 12,
        _ => 0,
    }
}

/// Every `IOMMU_TEST_CMD` operation with its union member's fields (offsets in the member).
pub use uiommu_uapi::catalog::TEST_OPS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_with_a_struct_has_its_fields() {
        let all = commands();
        assert!(all.len() >= 23 + 7 + 12);
        for c in all
            .iter()
            .filter(|c| !c.value_arg && c.name != "VFIO_GET_API_VERSION")
        {
            assert!(!c.fields.is_empty(), "{} has no layout", c.name);
            assert!(c.min_size <= c.size, "{}", c.name);
        }
        assert_eq!(TEST_OPS.len(), 23);
        assert!(
            TEST_OPS
                .iter()
                .enumerate()
                .all(|(i, (op, _))| *op == i as u32 + 1)
        );
    }
}
