//! The commands the fuzzer calls, each with its ioctl number, its struct's size, minimum size
//! and C fields (from the uAPI layout tables the ABI test checks against the kernel headers),
//! and the `IOMMU_TEST_CMD` union members by operation.

use std::sync::OnceLock;
use uiommu_abi::iommufd_ioctls;
use uiommu_uapi::layout::{FieldLayout, StructLayout};
use uiommu_uapi::selftest::*;
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
}

/// Every command, iommufd's then VFIO's.
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

/// How often the commands that build and change address spaces are drawn.
fn weight(name: &str) -> u32 {
    match name {
        "IOMMU_IOAS_MAP" | "IOMMU_TEST_CMD" => 12,
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
        });
    }
    out
}

macro_rules! members {
    ($($ty:ty),* $(,)?) => {
        &[$((<$ty as TestCmdMember>::OP, <$ty as TestCmdMember>::FIELDS)),*]
    };
}

/// Every `IOMMU_TEST_CMD` operation with its union member's fields (offsets in the member).
pub const TEST_OPS: &[(u32, &[FieldLayout])] = members![
    TestAddReserved,
    TestMockDomain,
    TestCheckMap,
    TestCheckRefs,
    TestCreateAccess,
    TestDestroyAccessPages,
    TestAccessPages,
    TestAccessRw,
    TestMemoryLimit,
    TestMockDomainReplace,
    TestAccessReplaceIoas,
    TestMockDomainFlags,
    TestDirty,
    TestCheckIotlb,
    TestTriggerIopf,
    TestCheckDevCache,
    TestTriggerVevent,
    TestPasidAttach,
    TestPasidReplace,
    TestPasidDetach,
    TestPasidCheck,
    TestDmabufGet,
    TestDmabufRevoke,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_with_a_struct_has_its_fields() {
        let all = commands();
        assert!(all.len() >= 23 + 7);
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
