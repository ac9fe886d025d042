//! The VF token through the device files of an SR-IOV IOAT PF and its VF
//! (`vfio_pci_core_match_token_uuid` reached by `VFIO_DEVICE_BIND_IOMMUFD`, and
//! `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`), with the real structs and `VfioDeviceFile::ioctl`.

mod common;

use common::{ctx_behind, sz};
use std::sync::Arc;
use uiommu_abi::sriov::{Functions, SriovPf, SriovRole};
use uiommu_abi::{Caller, FdHost, File, PciAddress, ProcessVm, VfioDeviceFile, placement};
use uiommu_core::context::Context;
use uiommu_core::iommu::DeviceSpec;
use uiommu_uapi::Errno;
use uiommu_uapi::vfio::*;
use zerocopy::IntoBytes;

const IOMMUFD: i32 = 100;
const A: [u8; 16] = [0xa; 16];
const B: [u8; 16] = [0xb; 16];

/// The caller's fds: the context at [`IOMMUFD`], nothing else.
struct Host(Arc<Context>);

impl FdHost for Host {
    fn install(&self, _file: File) -> Result<i32, Errno> {
        Err(Errno::ENOMEM)
    }
    fn uninstall(&self, _fd: i32) {}
    fn get(&self, _fd: i32) -> Option<File> {
        None
    }
    fn map_file(&self, _fd: i32) -> Result<Arc<dyn uiommu_core::ioas::FileBacking>, Errno> {
        Err(Errno::EBADF)
    }
    fn is_open(&self, fd: i32) -> bool {
        fd == IOMMUFD
    }
    fn iommufd(&self, fd: i32) -> Result<Arc<Context>, Errno> {
        (fd == IOMMUFD)
            .then(|| Arc::clone(&self.0))
            .ok_or(Errno::EBADF)
    }
}

/// An SR-IOV IOAT with one VF enabled, plus an edu: the PF's, the VF's and edu's files.
struct Setup {
    host: Host,
    pf: Arc<SriovPf>,
    files: Vec<VfioDeviceFile>,
}

fn setup() -> Setup {
    let driver = uiommu_core::driver::create("mock").expect("model");
    let host = Host(ctx_behind(Arc::clone(&driver)));
    let mut functions = Functions::default();
    let mut pf = None;
    let files = placement::parse(["ioat,vfs=1", "edu"])
        .unwrap()
        .iter()
        .map(|p| {
            let phys = Arc::new(driver.clone().probe_device(DeviceSpec::default()).unwrap());
            let (f, role) = functions.create(p, phys).unwrap();
            if let Some(SriovRole::Pf(p)) = &role {
                pf = Some(Arc::clone(p));
            }
            let mem = Arc::new(ProcessVm::current());
            VfioDeviceFile::open(f, mem, PciAddress::default()).with_sriov(role)
        })
        .collect();
    let pf = pf.unwrap();
    pf.store_num_vfs(b"1").unwrap();
    Setup { host, pf, files }
}

const PF: usize = 0;
const VF: usize = 1;
const EDU: usize = 2;

impl Setup {
    fn ioctl_at(&self, file: usize, cmd: u32, addr: u64) -> Result<i64, Errno> {
        let mem = ProcessVm::current();
        self.files[file].ioctl(&Caller::opener(&mem, &self.host), cmd, addr)
    }

    /// `VFIO_DEVICE_BIND_IOMMUFD` of `file` with the token at `uuid` (0: none).
    fn bind(&self, file: usize, uuid: u64) -> Result<i64, Errno> {
        let mut b = VfioDeviceBindIommufd {
            argsz: sz::<VfioDeviceBindIommufd>(),
            iommufd: IOMMUFD,
            flags: if uuid != 0 {
                VFIO_DEVICE_BIND_FLAG_TOKEN
            } else {
                0
            },
            token_uuid_ptr: uuid,
            ..Default::default()
        };
        self.ioctl_at(
            file,
            VFIO_DEVICE_BIND_IOMMUFD,
            b.as_mut_bytes().as_mut_ptr() as u64,
        )
    }

    /// `VFIO_DEVICE_FEATURE` of `flags` with `data` after the header, `argsz` as given.
    fn feature(&self, file: usize, flags: u32, argsz: u32, data: &[u8]) -> Result<i64, Errno> {
        let mut buf = vec![0u8; 8 + data.len()];
        buf[..4].copy_from_slice(&argsz.to_ne_bytes());
        buf[4..8].copy_from_slice(&flags.to_ne_bytes());
        buf[8..].copy_from_slice(data);
        self.ioctl_at(file, VFIO_DEVICE_FEATURE, buf.as_mut_ptr() as u64)
    }
}

#[test]
fn a_vf_binds_only_with_its_pfs_token_and_the_pf_then_needs_it_too() {
    let s = setup();
    let ptr = |t: &[u8; 16]| t.as_ptr() as u64;
    // A token a PF without VF users is given becomes its token (and the bind goes on).
    assert_eq!(s.bind(PF, ptr(&A)), Ok(0));
    s.files[PF].release();
    // The UUID is read before any check: EFAULT.
    assert_eq!(s.bind(VF, 8), Err(Errno::EFAULT));
    assert_eq!(s.bind(VF, 0), Err(Errno::EACCES), "no token");
    assert_eq!(s.bind(VF, ptr(&B)), Err(Errno::EACCES), "another token");
    assert_eq!(s.pf.users(), 0);
    assert_eq!(
        s.bind(VF, ptr(&A)),
        Ok(0),
        "the token outlives the PF's close"
    );
    assert_eq!(s.pf.users(), 1);
    // A PF with a VF in use needs the current token, and keeps it.
    assert_eq!(s.bind(PF, 0), Err(Errno::EACCES));
    assert_eq!(s.bind(PF, ptr(&B)), Err(Errno::EACCES));
    assert_eq!(s.pf.store_num_vfs(b"0"), Err(Errno::EBUSY), "a VF is open");
    assert_eq!(s.bind(PF, ptr(&A)), Ok(0));
    s.files[PF].release();
    s.files[VF].release();
    assert_eq!(s.pf.users(), 0);
    // Without VF users the PF takes B; the VF then needs B.
    assert_eq!(s.bind(PF, ptr(&B)), Ok(0));
    assert_eq!(s.bind(VF, ptr(&A)), Err(Errno::EACCES));
    assert_eq!(s.bind(VF, ptr(&B)), Ok(0));
    // A function that is neither: EINVAL for a token, none binds.
    assert_eq!(s.bind(EDU, ptr(&A)), Err(Errno::EINVAL));
    assert_eq!(s.bind(EDU, 0), Ok(0));
}

#[test]
fn the_vf_token_feature_sets_the_pfs_token() {
    let s = setup();
    let token = VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
    let (set, get, probe) = (
        VFIO_DEVICE_FEATURE_SET,
        VFIO_DEVICE_FEATURE_GET,
        VFIO_DEVICE_FEATURE_PROBE,
    );
    for f in [PF, VF, EDU] {
        assert_eq!(s.bind(f, 0).is_ok(), f != VF, "file {f}");
    }
    // Only a PF has the feature.
    assert_eq!(s.feature(EDU, token | set, 24, &A), Err(Errno::ENOTTY));
    assert_eq!(s.feature(PF, token | probe | set, 8, &[]), Ok(0));
    assert_eq!(
        s.feature(PF, token | probe | get, 8, &[]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.feature(PF, token | get, 24, &A),
        Err(Errno::EINVAL),
        "no GET"
    );
    assert_eq!(s.feature(PF, token | set, 23, &A[..15]), Err(Errno::EINVAL));
    assert_eq!(s.feature(PF, token | set, 24, &B), Ok(0));
    s.files[PF].release();
    assert_eq!(s.bind(VF, A.as_ptr() as u64), Err(Errno::EACCES));
    assert_eq!(s.bind(VF, B.as_ptr() as u64), Ok(0));
    assert_eq!(s.feature(VF, token | set, 24, &A), Err(Errno::ENOTTY));
}

#[test]
fn a_reset_of_the_pf_keeps_its_vfs_enabled() {
    use uiommu_devices::config::sriov::{EXTENDED_START, SRIOV_CTRL, SRIOV_NUM_VF};
    let s = setup();
    let word = |at: u16| {
        let mut w = [0u8; 2];
        let f = s.files[PF].function().lock().unwrap();
        f.config_read(EXTENDED_START + at, &mut w).unwrap();
        u16::from_le_bytes(w)
    };
    assert_eq!((word(SRIOV_NUM_VF), word(SRIOV_CTRL)), (1, 0x9));
    assert_eq!(s.bind(PF, 0), Ok(0));
    assert_eq!(s.ioctl_at(PF, VFIO_DEVICE_RESET, 0), Ok(0));
    assert_eq!((word(SRIOV_NUM_VF), word(SRIOV_CTRL)), (1, 0x9));
    // The release resets the function too (`vfio_pci_core_disable`).
    s.files[PF].release();
    assert_eq!((word(SRIOV_NUM_VF), word(SRIOV_CTRL)), (1, 0x9));
    assert_eq!(s.pf.num_vfs(), 1);
}
