//! Every ioctl of the uAPI by name, number, the file it is made on and the struct it takes,
//! and the `IOMMU_TEST_OP_*` names: what a tool needs to name and decode a call it sees
//! (a trace, an error message, a fuzzer's command table).
//!
//! VFIO numbers are per file: the container's `VFIO_IOMMU_GET_INFO` and a device's
//! `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` are both `VFIO_BASE + 12`, so a lookup names the file.

use crate::iommufd::*;
use crate::layout::StructLayout;
use crate::selftest::*;
use crate::vfio::*;

/// The kind of file an ioctl is made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `/dev/iommu`: iommufd's commands, and the VFIO container's through its compatibility.
    Iommufd,
    /// `/dev/vfio/vfio`: the VFIO container (type1, SPAPR), and iommufd's commands when
    /// iommufd serves it.
    Container,
    /// `/dev/vfio/N`: a VFIO group.
    Group,
    /// `/dev/vfio/devices/vfioN` or a group's device fd: a VFIO device.
    Device,
}

/// Which files take an ioctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    /// `/dev/iommu` and (through iommufd's compatibility) `/dev/vfio/vfio`.
    Iommufd,
    /// The container's own commands, on either node.
    Container,
    Group,
    Device,
}

impl On {
    fn takes(self, file: FileKind) -> bool {
        match self {
            On::Iommufd | On::Container => matches!(file, FileKind::Iommufd | FileKind::Container),
            On::Group => file == FileKind::Group,
            On::Device => file == FileKind::Device,
        }
    }
}

/// One ioctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ioctl {
    /// The macro's name in the uAPI header.
    pub name: &'static str,
    /// Its number.
    pub cmd: u32,
    /// The C struct it points at; `None` for a command whose argument is a value or unused.
    pub c_struct: Option<&'static str>,
    on: On,
}

macro_rules! ioctls {
    ($($on:ident: $name:ident => $c:expr),* $(,)?) => {
        &[$(Ioctl { name: stringify!($name), cmd: $name, c_struct: $c, on: On::$on }),*]
    };
}

/// Every ioctl this crate declares.
pub const IOCTLS: &[Ioctl] = ioctls![
    Iommufd: IOMMU_DESTROY => Some("iommu_destroy"),
    Iommufd: IOMMU_IOAS_ALLOC => Some("iommu_ioas_alloc"),
    Iommufd: IOMMU_IOAS_ALLOW_IOVAS => Some("iommu_ioas_allow_iovas"),
    Iommufd: IOMMU_IOAS_COPY => Some("iommu_ioas_copy"),
    Iommufd: IOMMU_IOAS_IOVA_RANGES => Some("iommu_ioas_iova_ranges"),
    Iommufd: IOMMU_IOAS_MAP => Some("iommu_ioas_map"),
    Iommufd: IOMMU_IOAS_UNMAP => Some("iommu_ioas_unmap"),
    Iommufd: IOMMU_OPTION => Some("iommu_option"),
    Iommufd: IOMMU_VFIO_IOAS => Some("iommu_vfio_ioas"),
    Iommufd: IOMMU_HWPT_ALLOC => Some("iommu_hwpt_alloc"),
    Iommufd: IOMMU_GET_HW_INFO => Some("iommu_hw_info"),
    Iommufd: IOMMU_HWPT_SET_DIRTY_TRACKING => Some("iommu_hwpt_set_dirty_tracking"),
    Iommufd: IOMMU_HWPT_GET_DIRTY_BITMAP => Some("iommu_hwpt_get_dirty_bitmap"),
    Iommufd: IOMMU_HWPT_INVALIDATE => Some("iommu_hwpt_invalidate"),
    Iommufd: IOMMU_FAULT_QUEUE_ALLOC => Some("iommu_fault_alloc"),
    Iommufd: IOMMU_IOAS_MAP_FILE => Some("iommu_ioas_map_file"),
    Iommufd: IOMMU_VIOMMU_ALLOC => Some("iommu_viommu_alloc"),
    Iommufd: IOMMU_VDEVICE_ALLOC => Some("iommu_vdevice_alloc"),
    Iommufd: IOMMU_IOAS_CHANGE_PROCESS => Some("iommu_ioas_change_process"),
    Iommufd: IOMMU_VEVENTQ_ALLOC => Some("iommu_veventq_alloc"),
    Iommufd: IOMMU_HW_QUEUE_ALLOC => Some("iommu_hw_queue_alloc"),
    Iommufd: IOMMU_IOAS_NOIOMMU_GET_PA => Some("iommu_ioas_noiommu_get_pa"),
    Iommufd: IOMMU_TEST_CMD => Some("iommu_test_cmd"),
    Container: VFIO_GET_API_VERSION => None,
    Container: VFIO_CHECK_EXTENSION => None,
    Container: VFIO_SET_IOMMU => None,
    Container: VFIO_IOMMU_GET_INFO => Some("vfio_iommu_type1_info"),
    Container: VFIO_IOMMU_MAP_DMA => Some("vfio_iommu_type1_dma_map"),
    Container: VFIO_IOMMU_UNMAP_DMA => Some("vfio_iommu_type1_dma_unmap"),
    Container: VFIO_IOMMU_ENABLE => None,
    Container: VFIO_IOMMU_DISABLE => None,
    Container: VFIO_IOMMU_DIRTY_PAGES => Some("vfio_iommu_type1_dirty_bitmap"),
    Group: VFIO_GROUP_GET_STATUS => Some("vfio_group_status"),
    Group: VFIO_GROUP_SET_CONTAINER => None,
    Group: VFIO_GROUP_UNSET_CONTAINER => None,
    Group: VFIO_GROUP_GET_DEVICE_FD => None,
    Device: VFIO_DEVICE_GET_INFO => Some("vfio_device_info"),
    Device: VFIO_DEVICE_GET_REGION_INFO => Some("vfio_region_info"),
    Device: VFIO_DEVICE_GET_IRQ_INFO => Some("vfio_irq_info"),
    Device: VFIO_DEVICE_SET_IRQS => Some("vfio_irq_set"),
    Device: VFIO_DEVICE_RESET => None,
    Device: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO => Some("vfio_pci_hot_reset_info"),
    Device: VFIO_DEVICE_PCI_HOT_RESET => Some("vfio_pci_hot_reset"),
    Device: VFIO_DEVICE_QUERY_GFX_PLANE => Some("vfio_device_gfx_plane_info"),
    Device: VFIO_DEVICE_GET_GFX_DMABUF => None,
    Device: VFIO_DEVICE_IOEVENTFD => Some("vfio_device_ioeventfd"),
    Device: VFIO_DEVICE_FEATURE => Some("vfio_device_feature"),
    Device: VFIO_DEVICE_BIND_IOMMUFD => Some("vfio_device_bind_iommufd"),
    Device: VFIO_DEVICE_ATTACH_IOMMUFD_PT => Some("vfio_device_attach_iommufd_pt"),
    Device: VFIO_DEVICE_DETACH_IOMMUFD_PT => Some("vfio_device_detach_iommufd_pt"),
];

/// The ioctl `cmd` on a file of kind `file` (the upper bits of a wider request dropped, as
/// the kernel's `unsigned int cmd` does).
pub fn ioctl(file: FileKind, cmd: u32) -> Option<&'static Ioctl> {
    IOCTLS.iter().find(|i| i.cmd == cmd && i.on.takes(file))
}

/// The C layout of struct `c_name`, from every struct table of the crate.
pub fn layout(c_name: &str) -> Option<&'static StructLayout> {
    crate::iommufd::STRUCT_TABLES
        .iter()
        .chain(crate::vfio::STRUCT_TABLES)
        .chain(crate::selftest::STRUCT_TABLES)
        .flat_map(|t| t.iter())
        .find(|l| l.c_name == c_name)
}

/// The prefix of the constants that name the bits of field `field` (its C path) of ioctl
/// `ioctl`'s struct (or of a queue's record, `ioctl` then the record's struct name), where
/// the uAPI names them; `A(B|C)` for the names that start with `AB` or `AC`.
fn bit_prefix(ioctl: &str, field: &str) -> Option<&'static str> {
    Some(match (ioctl, field) {
        ("IOMMU_IOAS_MAP" | "IOMMU_IOAS_MAP_FILE" | "IOMMU_IOAS_COPY", "flags") => {
            "IOMMU_IOAS_MAP_"
        }
        ("IOMMU_HWPT_ALLOC", "flags") => "IOMMU_HWPT_(ALLOC_|FAULT_ID_VALID)",
        ("IOMMU_HWPT_SET_DIRTY_TRACKING", "flags") => "IOMMU_HWPT_DIRTY_TRACKING_",
        ("IOMMU_HWPT_GET_DIRTY_BITMAP", "flags") => "IOMMU_HWPT_GET_DIRTY_BITMAP_",
        ("IOMMU_GET_HW_INFO", "out_capabilities") => "IOMMU_HW_CAP_",
        ("VFIO_IOMMU_MAP_DMA", "flags") => "VFIO_DMA_MAP_FLAG_",
        ("VFIO_IOMMU_UNMAP_DMA", "flags") => "VFIO_DMA_UNMAP_FLAG_",
        ("VFIO_DEVICE_GET_INFO", "flags") => "VFIO_DEVICE_FLAGS_",
        ("VFIO_DEVICE_GET_REGION_INFO", "flags") => "VFIO_REGION_INFO_FLAG_",
        ("VFIO_DEVICE_GET_IRQ_INFO", "flags") => "VFIO_IRQ_INFO_",
        ("VFIO_DEVICE_SET_IRQS", "flags") => "VFIO_IRQ_SET_",
        ("VFIO_DEVICE_BIND_IOMMUFD", "flags") => "VFIO_DEVICE_BIND_FLAG_",
        ("VFIO_DEVICE_ATTACH_IOMMUFD_PT", "flags") => "VFIO_DEVICE_ATTACH_",
        ("VFIO_DEVICE_DETACH_IOMMUFD_PT", "flags") => "VFIO_DEVICE_DETACH_",
        // The records of the queues' files, by their structs' names.
        ("iommu_hwpt_pgfault", "flags") => "IOMMU_PGFAULT_FLAGS_",
        ("iommu_hwpt_pgfault", "perm") => "IOMMU_PGFAULT_PERM_",
        ("iommufd_vevent_header", "flags") => "IOMMU_VEVENTQ_FLAG_",
        _ => return None,
    })
}

/// `value` of field `field` (its C path) of ioctl `ioctl`'s struct as the names of its bits
/// (`IOMMU_IOAS_MAP_WRITEABLE|IOMMU_IOAS_MAP_READABLE`, unnamed bits in hex after them), if
/// the uAPI names that field's bits; `None` otherwise.
pub fn flag_names(ioctl: &str, field: &str, value: u64) -> Option<String> {
    let prefix = bit_prefix(ioctl, field)?;
    // `A(B|C)`: the names starting with `AB` or `AC`.
    let prefixes: Vec<String> = match prefix.split_once('(') {
        Some((head, alts)) => alts
            .trim_end_matches(')')
            .split('|')
            .map(|a| format!("{head}{a}"))
            .collect(),
        None => vec![prefix.to_string()],
    };
    if value == 0 {
        return Some("0".into());
    }
    let bits = crate::iommufd::CONST_TABLES
        .iter()
        .chain(crate::vfio::CONST_TABLES)
        .flat_map(|t| t.iter())
        .filter(|c| {
            prefixes.iter().any(|p| c.c_name.starts_with(p.as_str())) && c.value.is_power_of_two()
        });
    let mut names: Vec<(u64, &str)> = Vec::new();
    for c in bits {
        if value & c.value != 0 && !names.iter().any(|(v, _)| *v == c.value) {
            names.push((c.value, c.c_name));
        }
    }
    names.sort_unstable();
    let mut out: Vec<String> = names.iter().map(|(_, n)| n.to_string()).collect();
    let rest = names.iter().fold(value, |v, (bit, _)| v & !bit);
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    Some(out.join("|"))
}

macro_rules! members {
    ($($ty:ty),* $(,)?) => {
        &[$((<$ty as TestCmdMember>::OP, <$ty as TestCmdMember>::FIELDS)),*]
    };
}

/// Every `IOMMU_TEST_CMD` operation with its union member's fields (offsets in the member).
pub const TEST_OPS: &[(u32, &[crate::layout::FieldLayout])] = members![
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

/// The fields of the union member selftest operation `op` uses (offsets in the member).
pub fn test_op_fields(op: u32) -> Option<&'static [crate::layout::FieldLayout]> {
    TEST_OPS.iter().find(|(o, _)| *o == op).map(|(_, f)| *f)
}

/// The struct of the data that follows each `struct iommufd_vevent_header` read from a
/// vEVENTQ of `veventq_type` (`IOMMU_VEVENTQ_TYPE_*`), if the uAPI declares one.
pub fn vevent_struct(veventq_type: u32) -> Option<&'static str> {
    match veventq_type {
        IOMMU_VEVENTQ_TYPE_ARM_SMMUV3 => Some("iommu_vevent_arm_smmuv3"),
        IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV => Some("iommu_vevent_tegra241_cmdqv"),
        IOMMU_VEVENTQ_TYPE_SELFTEST => Some("iommu_viommu_event_selftest"),
        _ => None,
    }
}

/// The name of selftest operation `op` (`IOMMU_TEST_OP_*`).
pub fn test_op_name(op: u32) -> Option<&'static str> {
    macro_rules! names {
        ($($c:ident),* $(,)?) => {
            match op {
                $($c => Some(stringify!($c)),)*
                _ => None,
            }
        };
    }
    names!(
        IOMMU_TEST_OP_ADD_RESERVED,
        IOMMU_TEST_OP_MOCK_DOMAIN,
        IOMMU_TEST_OP_MD_CHECK_MAP,
        IOMMU_TEST_OP_MD_CHECK_REFS,
        IOMMU_TEST_OP_CREATE_ACCESS,
        IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
        IOMMU_TEST_OP_ACCESS_PAGES,
        IOMMU_TEST_OP_ACCESS_RW,
        IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
        IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
        IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
        IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
        IOMMU_TEST_OP_DIRTY,
        IOMMU_TEST_OP_MD_CHECK_IOTLB,
        IOMMU_TEST_OP_TRIGGER_IOPF,
        IOMMU_TEST_OP_DEV_CHECK_CACHE,
        IOMMU_TEST_OP_TRIGGER_VEVENT,
        IOMMU_TEST_OP_PASID_ATTACH,
        IOMMU_TEST_OP_PASID_REPLACE,
        IOMMU_TEST_OP_PASID_DETACH,
        IOMMU_TEST_OP_PASID_CHECK_HWPT,
        IOMMU_TEST_OP_DMABUF_GET,
        IOMMU_TEST_OP_DMABUF_REVOKE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_struct_named_has_a_layout_and_numbers_are_unique_per_file() {
        for i in IOCTLS {
            if let Some(c) = i.c_struct {
                assert!(layout(c).is_some(), "{}: no layout for {c}", i.name);
            }
        }
        for file in [
            FileKind::Iommufd,
            FileKind::Container,
            FileKind::Group,
            FileKind::Device,
        ] {
            let mut cmds: Vec<u32> = IOCTLS
                .iter()
                .filter(|i| i.on.takes(file))
                .map(|i| i.cmd)
                .collect();
            let n = cmds.len();
            cmds.sort_unstable();
            cmds.dedup();
            assert_eq!(cmds.len(), n, "two ioctls share a number on {file:?}");
        }
    }

    #[test]
    fn flags_read_as_their_bits_names() {
        let map = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
        assert_eq!(
            flag_names("IOMMU_IOAS_MAP", "flags", map.into()).as_deref(),
            Some("IOMMU_IOAS_MAP_FIXED_IOVA|IOMMU_IOAS_MAP_WRITEABLE|IOMMU_IOAS_MAP_READABLE")
        );
        assert_eq!(
            flag_names("VFIO_DEVICE_SET_IRQS", "flags", 0x24).as_deref(),
            Some("VFIO_IRQ_SET_DATA_EVENTFD|VFIO_IRQ_SET_ACTION_TRIGGER")
        );
        assert_eq!(
            flag_names("VFIO_IOMMU_MAP_DMA", "flags", 0x1003).as_deref(),
            Some("VFIO_DMA_MAP_FLAG_READ|VFIO_DMA_MAP_FLAG_WRITE|0x1000")
        );
        assert_eq!(
            flag_names("IOMMU_HWPT_ALLOC", "flags", 0).as_deref(),
            Some("0")
        );
        assert_eq!(flag_names("IOMMU_DESTROY", "id", 1), None);
    }

    #[test]
    fn lookups_name_the_file_s_command() {
        let get = |f, c| ioctl(f, c).map(|i| i.name);
        assert_eq!(
            get(FileKind::Iommufd, IOMMU_IOAS_MAP),
            Some("IOMMU_IOAS_MAP")
        );
        assert_eq!(
            get(FileKind::Container, VFIO_IOMMU_GET_INFO),
            Some("VFIO_IOMMU_GET_INFO")
        );
        assert_eq!(
            get(FileKind::Device, VFIO_IOMMU_GET_INFO),
            Some("VFIO_DEVICE_GET_PCI_HOT_RESET_INFO")
        );
        assert_eq!(get(FileKind::Group, IOMMU_IOAS_MAP), None);
        assert_eq!(
            test_op_name(IOMMU_TEST_OP_ACCESS_RW),
            Some("IOMMU_TEST_OP_ACCESS_RW")
        );
        assert_eq!(test_op_name(0), None);
    }
}
