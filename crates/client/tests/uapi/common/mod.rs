//! Target detection and assertions shared by the scenarios.

use uiommu_client::{Error, Iommufd};
use uiommu_uapi::Errno;

/// Whether a missing `/dev/iommu` or selftest driver must fail the scenario instead of
/// skipping it: the real-kernel leg sets `UIOMMU_CLIENT_REQUIRE=1`, and under `uiommu exec`
/// the device is always provided.
pub fn required() -> bool {
    std::env::var_os("UIOMMU_CLIENT_REQUIRE").is_some_and(|v| v == "1") || under_uiommu()
}

/// Whether the process runs under uiommu's preload.
pub fn under_uiommu() -> bool {
    std::env::var("LD_PRELOAD").is_ok_and(|v| v.contains("uiommu"))
}

/// The iommufd for scenario `name`, or `None` (after printing why) when the machine has none.
pub fn open(name: &str) -> Option<Iommufd> {
    match Iommufd::open() {
        Ok(fd) => Some(fd),
        Err(e) if required() => panic!("{name}: /dev/iommu is required here but {e}"),
        Err(e) => {
            eprintln!(
                "SKIP {name}: no usable /dev/iommu ({e}); run on a kernel with IOMMUFD or under `uiommu exec`"
            );
            None
        }
    }
}

/// The iommufd for scenario `name` when the selftest mock driver (`IOMMU_TEST_CMD`) is
/// there too.
pub fn open_mock(name: &str) -> Option<Iommufd> {
    let fd = open(name)?;
    if fd.test().available() {
        return Some(fd);
    }
    if required() {
        panic!("{name}: IOMMU_TEST_CMD is required here but is ENOTTY");
    }
    eprintln!("SKIP {name}: IOMMU_TEST_CMD is ENOTTY (kernel without CONFIG_IOMMUFD_TEST)");
    None
}

/// The IOMMU the selftest's devices (`IOMMU_TEST_OP_MOCK_DOMAIN`) sit behind: under
/// `uiommu exec` the model it was given (`--driver`, passed on as `UIOMMU_DRIVER`), on a
/// kernel the selftest mock driver.
pub fn test_iommu() -> String {
    match std::env::var("UIOMMU_DRIVER") {
        Ok(d) if under_uiommu() => d,
        _ => "mock".into(),
    }
}

/// The iommufd for scenario `name` when the selftest devices sit behind the selftest mock
/// IOMMU itself: the scenario checks what only the mock has (its hw_info type, page table and
/// aperture, the mock-only test operations, its vIOMMU, its nested data). Behind another model
/// (`uiommu exec --driver vtd`) it prints a `SKIP` line and passes.
pub fn open_mock_iommu(name: &str) -> Option<Iommufd> {
    let iommu = test_iommu();
    if iommu != "mock" {
        eprintln!(
            "SKIP {name}: checks the selftest mock IOMMU, and the selftest devices sit behind {iommu}"
        );
        return None;
    }
    open_mock(name)
}

/// Whether paging domains of the IOMMU the selftest devices sit behind can be attached to a
/// PASID (the domain ops' `set_dev_pasid`). The mock, VT-d and SMMUv3 have it; Linux 7.3's
/// AMD-Vi has it only for SVA domains, and answers `EOPNOTSUPP`. Prints a `SKIP` line for
/// scenario `name` when not.
pub fn paging_pasid_attach(name: &str) -> bool {
    let iommu = test_iommu();
    if iommu == "amd" {
        eprintln!("SKIP {name}: paging domains behind {iommu} cannot attach to a PASID");
        return false;
    }
    true
}

/// Asserts that `r` failed with `errno`.
#[track_caller]
pub fn assert_errno<T: std::fmt::Debug>(r: Result<T, Error>, errno: Errno) {
    match r {
        Ok(v) => panic!("expected {errno:?}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.errno(), Some(errno), "expected {errno:?}, got {e}"),
    }
}

/// Declares a scenario that needs `/dev/iommu`.
macro_rules! scenario {
    ($(#[$m:meta])* fn $name:ident($fd:ident) $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            let Some($fd) = $crate::common::open(stringify!($name)) else { return };
            $body
        }
    };
}

/// Declares a scenario that needs the selftest mock driver.
macro_rules! mock_scenario {
    ($(#[$m:meta])* fn $name:ident($fd:ident) $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            let Some($fd) = $crate::common::open_mock(stringify!($name)) else { return };
            $body
        }
    };
}

/// Declares a scenario that needs the selftest mock driver with its devices behind the mock
/// IOMMU (see [`open_mock_iommu`]).
macro_rules! mock_iommu_scenario {
    ($(#[$m:meta])* fn $name:ident($fd:ident) $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            let Some($fd) = $crate::common::open_mock_iommu(stringify!($name)) else { return };
            $body
        }
    };
}

pub(crate) use {mock_iommu_scenario, mock_scenario, scenario};

/// 1 MiB-aligned IOVAs the scenarios use on an IOAS with no device.
pub const IOVA: u64 = 0x10_0000;
/// A buffer size of 16 pages of 4 KiB.
pub const LEN: usize = 16 * 4096;
