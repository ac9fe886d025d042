//! The world one sequence runs in: a fake user address space with fixed regions, the fds the
//! commands create, and a fresh context behind the sequence's IOMMU model. It turns a [`Call`]
//! into the bytes and address an `ioctl` passes, and calls [`uiommu_abi::dispatch`].
//!
//! Layout (every other address faults):
//!
//! | region | address | pages |
//! | --- | --- | --- |
//! | struct, writable | `0x10_0000` | 2 |
//! | [`Region::Buf`] | `0x11_0000` | 4, filled with IOVA ranges and bitmap words |
//! | struct, read-only | `0x14_0000` | 2 |
//! | struct across a hole | `0x16_0000` | 1, then a hole |
//! | struct across a read-only page | `0x18_0000` | 1 writable, 1 read-only |
//! | [`Region::Rw`] | `0x20_0000` | 64 |
//! | [`Region::Ro`] | `0x30_0000` | 16, read-only |
//! | [`Region::None`] | `0x40_0000` | none |
//! | [`Region::Edge`] | `0x50_0000` | 1, then a hole |

use crate::call::{ArgPlace, Call, ObjKind, Region, Val};
use crate::spec::{self, Command, Target};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use uiommu_abi::{Caller, FdHost, File, PciAddress, UserBuffer, VfioDeviceFile, dispatch};
use uiommu_core::context::{Context, Node, Process};
use uiommu_core::device::Device;
use uiommu_core::fault::FaultQueue;
use uiommu_core::hwpt::{HwptNested, HwptPaging};
use uiommu_core::ioas::{FileBacking, LockedVm, PinRegistry, ProbeMemory};
use uiommu_core::object::Ioas;
use uiommu_core::selftest::SelftestDevice;
use uiommu_core::vdevice::Vdevice;
use uiommu_core::viommu::Viommu;
use uiommu_devices::Trigger;
use uiommu_devices::testing::CountingTrigger;
use uiommu_uapi::Errno;
use uiommu_uapi::user::testing::TestMemory;

/// Page size of the fake address space.
pub const PAGE: u64 = 4096;
const ARG_RW: u64 = 0x10_0000;
const BUF: u64 = 0x11_0000;
const ARG_RO: u64 = 0x14_0000;
const ARG_EDGE: u64 = 0x16_0000;
const ARG_EDGE_RO: u64 = 0x18_0000;
const RW: u64 = 0x20_0000;
const RW_PAGES: u64 = 64;
const RO: u64 = 0x30_0000;
const RO_PAGES: u64 = 16;
const NONE: u64 = 0x40_0000;
const EDGE: u64 = 0x50_0000;
const KERNEL: u64 = 0xffff_8000_0000_0000;

/// Every page a map can pin: the data regions, the straddling page and the array buffer.
pub fn pinnable_pages() -> impl Iterator<Item = u64> {
    let pages = |base: u64, n: u64| (0..n).map(move |p| base + p * PAGE);
    pages(RW, RW_PAGES)
        .chain(pages(RO, RO_PAGES))
        .chain(pages(EDGE, 1))
        .chain(pages(BUF, 4))
}

/// The words of [`Region::Buf`]: pairs that read as IOVA ranges, then bitmap words.
const BUF_WORDS: [u64; 16] = [
    0,
    u64::MAX,
    0x10_0000,
    0x1f_ffff,
    0x1000,
    0xffff_ffff,
    0x8000_0000,
    0x7fff_ffff,
    u64::MAX,
    0x5555_5555_5555_5555,
    0,
    0xff,
    1,
    0xffff_ffff_ffff,
    0x2000,
    0x3fff,
];

/// The fd number of the context itself, for the device file's `VFIO_DEVICE_BIND_IOMMUFD`.
pub const IOMMUFD_FD: i32 = 1000;
/// The first of [`EVENTFDS`] eventfd numbers, for `VFIO_DEVICE_SET_IRQS`.
pub const EVENTFD_BASE: i32 = 2000;
/// How many eventfds there are.
pub const EVENTFDS: i32 = 4;

/// One mapped area: first IOVA, length, and the user address behind its first byte.
pub type AreaView = (u64, u64, u64);

/// The fds commands created (access, fault queue, vEVENTQ and dma-buf files), the context's
/// own fd ([`IOMMUFD_FD`]) and a few eventfds (from [`EVENTFD_BASE`]).
#[derive(Default)]
pub struct Fds {
    table: Mutex<(i32, BTreeMap<i32, File>)>,
    /// Weak, so that the teardown can see the context go.
    iommufd: OnceLock<Weak<Context>>,
    eventfds: OnceLock<Vec<Arc<CountingTrigger>>>,
}

impl Fds {
    fn lock(&self) -> std::sync::MutexGuard<'_, (i32, BTreeMap<i32, File>)> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open fds, ascending.
    pub fn open(&self) -> Vec<i32> {
        self.lock().1.keys().copied().collect()
    }

    /// Closes every fd, releasing its file.
    pub fn close_all(&self) {
        let files = std::mem::take(&mut self.lock().1);
        for f in files.into_values() {
            f.release();
        }
    }
}

impl FdHost for Fds {
    fn install(&self, file: File) -> Result<i32, Errno> {
        let mut t = self.lock();
        let fd = t.0;
        t.0 += 1;
        t.1.insert(fd, file);
        Ok(fd)
    }
    fn uninstall(&self, fd: i32) {
        self.lock().1.remove(&fd);
    }
    fn get(&self, fd: i32) -> Option<File> {
        self.lock().1.get(&fd).cloned()
    }
    fn map_file(&self, _fd: i32) -> Result<Arc<dyn FileBacking>, Errno> {
        Err(Errno::EBADF)
    }
    fn is_open(&self, fd: i32) -> bool {
        fd == IOMMUFD_FD
            || (EVENTFD_BASE..EVENTFD_BASE + EVENTFDS).contains(&fd)
            || self.get(fd).is_some()
    }
    fn iommufd(&self, fd: i32) -> Result<Arc<Context>, Errno> {
        match self.iommufd.get().and_then(Weak::upgrade) {
            Some(ctx) if fd == IOMMUFD_FD => Ok(ctx),
            _ if self.is_open(fd) => Err(Errno::EBADFD),
            _ => Err(Errno::EBADF),
        }
    }
    fn eventfd(&self, fd: i32) -> Result<Arc<dyn Trigger>, Errno> {
        let found = fd
            .checked_sub(EVENTFD_BASE)
            .and_then(|i| self.eventfds.get()?.get(usize::try_from(i).ok()?));
        match found {
            Some(t) => Ok(t.clone() as Arc<dyn Trigger>),
            None if self.is_open(fd) => Err(Errno::EINVAL),
            None => Err(Errno::EBADF),
        }
    }
}

/// A call turned into what `ioctl` passes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub command: &'static Command,
    /// The `arg` of `ioctl`.
    pub arg: u64,
    /// The struct bytes as written, zero-extended to at least the command's size.
    pub bytes: Vec<u8>,
}

impl Prepared {
    /// The value of `width` bytes at `offset` of the struct as written.
    pub fn get(&self, offset: usize, width: usize) -> u64 {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(&self.bytes[offset..offset + width]);
        u64::from_ne_bytes(b)
    }
}

/// The memory, fds, accounting and context of one sequence.
pub struct World {
    pub mem: Arc<TestMemory>,
    pub fds: Fds,
    pub registry: Arc<PinRegistry>,
    pub user_locked: Arc<LockedVm>,
    pub mm_locked: Arc<LockedVm>,
    pub ctx: Arc<Context>,
    /// The VFIO device file of the sequence's device, opened (not bound), if it has one.
    pub device: Option<VfioDeviceFile>,
}

impl World {
    /// A fresh world behind `model`, opened as `/dev/vfio/vfio` if `vfio_node`, with a device
    /// file of a new function of the device model `device` behind the same IOMMU.
    pub fn new(model: &str, vfio_node: bool, device: Option<&str>) -> Result<Self, String> {
        let model = uiommu_core::driver::model(model).ok_or(format!("no model {model}"))?;
        let mem = Arc::new(TestMemory::new());
        mem.map(ARG_RW, 2 * PAGE);
        mem.map(BUF, 4 * PAGE);
        for (i, w) in BUF_WORDS
            .iter()
            .cycle()
            .take(4 * PAGE as usize / 8)
            .enumerate()
        {
            mem.put(BUF + 8 * i as u64, &w.to_ne_bytes());
        }
        mem.map(ARG_EDGE, PAGE);
        mem.map(RW, RW_PAGES * PAGE);
        for p in 0..RW_PAGES {
            mem.put(RW + p * PAGE, &p.to_ne_bytes());
        }
        mem.map_readonly(RO, RO_PAGES * PAGE);
        mem.map(EDGE, PAGE);
        let registry = Arc::new(PinRegistry::new());
        let user_locked = Arc::new(LockedVm::new(1 << 20));
        let mm_locked = Arc::new(LockedVm::new(1 << 20));
        let process = Process {
            memory: Arc::new(ProbeMemory(mem.clone())),
            registry: registry.clone(),
            user_locked: user_locked.clone(),
            mm_locked: mm_locked.clone(),
            cap_ipc_lock: false,
            cap_sys_resource: true,
        };
        let node = if vfio_node {
            Node::VfioContainer
        } else {
            Node::Iommu
        };
        let driver = model.create();
        let device = match device {
            None => None,
            Some(name) => {
                let dm = uiommu_devices::registry::device_model(name)
                    .ok_or(format!("no device model {name}"))?;
                let phys = Arc::clone(&driver)
                    .probe_device(uiommu_core::iommu::DeviceSpec::default())
                    .map_err(|e| format!("probe_device: {e:?}"))?;
                let function = dm.create(Arc::new(phys));
                // The function's DMA lands in the same fake address space the calls use.
                let dma_memory: uiommu_devices::dma::ProcessMemory = mem.clone();
                Some(VfioDeviceFile::open(
                    function,
                    dma_memory,
                    PciAddress::default(),
                ))
            }
        };
        let ctx = Context::new(process, node, driver);
        let fds = Fds::default();
        let _ = fds.iommufd.set(Arc::downgrade(&ctx));
        let _ = fds
            .eventfds
            .set((0..EVENTFDS).map(|_| CountingTrigger::new()).collect());
        Ok(World {
            ctx,
            mem,
            fds,
            registry,
            user_locked,
            mm_locked,
            device,
        })
    }

    /// The live object IDs, ascending.
    pub fn ids(&self) -> Vec<u32> {
        let mut ids = self.ctx.objects.ids();
        ids.sort_unstable();
        ids
    }

    /// The live objects of `kind`, ascending.
    pub fn ids_of(&self, kind: ObjKind) -> Vec<u32> {
        let c = &self.ctx;
        let is = |id: u32| match kind {
            ObjKind::Ioas => c.get::<Ioas>(id).is_ok(),
            ObjKind::Hwpt => c.get::<HwptPaging>(id).is_ok() || c.get::<HwptNested>(id).is_ok(),
            ObjKind::Pt => {
                c.get::<Ioas>(id).is_ok()
                    || c.get::<HwptPaging>(id).is_ok()
                    || c.get::<HwptNested>(id).is_ok()
            }
            ObjKind::Device => c.get::<Device>(id).is_ok(),
            ObjKind::Stdev => c.get::<SelftestDevice>(id).is_ok(),
            ObjKind::Viommu => c.get::<Viommu>(id).is_ok(),
            ObjKind::Vdevice => c.get::<Vdevice>(id).is_ok(),
            ObjKind::Fault => c.get::<FaultQueue>(id).is_ok(),
        };
        self.ids().into_iter().filter(|&id| is(id)).collect()
    }

    /// Every IOAS with its areas, by ID.
    pub fn areas(&self) -> BTreeMap<u32, Vec<AreaView>> {
        self.ids()
            .into_iter()
            .filter_map(|id| {
                let ioas = self.ctx.get::<Ioas>(id).ok()?;
                let areas = ioas.iopt.areas();
                Some((
                    id,
                    areas.iter().map(|a| (a.iova, a.length, a.addr)).collect(),
                ))
            })
            .collect()
    }

    /// The number a symbolic value stands for now.
    pub fn resolve(&self, v: Val) -> u64 {
        fn pick<T: Copy>(list: &[T], k: u8) -> Option<T> {
            (!list.is_empty()).then(|| list[usize::from(k) % list.len()])
        }
        let flat = || self.areas().into_values().flatten().collect::<Vec<_>>();
        match v {
            Val::Lit(x) => x,
            Val::Id(k) => pick(&self.ids(), k).map_or(0, u64::from),
            Val::Obj(kind, k) => pick(&self.ids_of(kind), k).map_or(0, u64::from),
            Val::Fd(k) => pick(&self.fds.open(), k).map_or(u64::MAX, |fd| fd as u64),
            Val::AreaIova(k, d) => {
                let base = pick(&flat(), k).map_or(0, |a| a.0);
                base.wrapping_add_signed(i64::from(d) * PAGE as i64)
            }
            Val::AreaLen(k) => pick(&flat(), k).map_or(PAGE, |a| a.1),
            Val::Ptr(r, off) => off.wrapping_add(match r {
                Region::Rw => RW,
                Region::Ro => RO,
                Region::None => NONE,
                Region::Edge => EDGE,
                Region::Buf => BUF,
                Region::Null => 0,
                Region::Kernel => KERNEL,
            }),
        }
    }

    /// Writes the call's struct where its [`ArgPlace`] says.
    pub fn prepare(&self, call: &Call) -> Result<Prepared, String> {
        let command = spec::command(call.name).ok_or(format!("unknown {}", call.name))?;
        let len = usize::from(call.len);
        let mut bytes = vec![0u8; len.max(command.size)];
        for b in bytes.iter_mut().take(len).skip(command.size) {
            *b = call.tail;
        }
        for f in &call.fields {
            let (at, w) = (usize::from(f.offset), usize::from(f.width));
            if at + w <= bytes.len() && matches!(w, 1 | 2 | 4 | 8) {
                bytes[at..at + w].copy_from_slice(&self.resolve(f.val).to_ne_bytes()[..w]);
            }
        }
        let written = &bytes[..len];
        let half = (len as u64 / 2).next_multiple_of(8).clamp(8, PAGE);
        let arg = match call.arg {
            ArgPlace::Value(v) => v,
            ArgPlace::None => NONE,
            ArgPlace::Rw => self.write_struct(written),
            ArgPlace::Ro => {
                self.mem.put(ARG_RO, &vec![0; 2 * PAGE as usize]);
                self.mem.put(ARG_RO, written);
                self.mem.map_readonly(ARG_RO, 2 * PAGE);
                ARG_RO
            }
            ArgPlace::Edge => {
                let at = ARG_EDGE + PAGE - half;
                let fits = written.len().min(half as usize);
                self.mem.put(at, &written[..fits]);
                at
            }
            ArgPlace::EdgeRo => {
                self.mem.put(ARG_EDGE_RO, &vec![0; 2 * PAGE as usize]);
                let at = ARG_EDGE_RO + PAGE - half;
                self.mem.put(at, written);
                self.mem.map_readonly(ARG_EDGE_RO + PAGE, PAGE);
                at
            }
        };
        // What the kernel reads past the bytes written is the zeroed rest of the page (or a
        // fault): the struct as the checks see it ends where the write did.
        let end = len.min(bytes.len());
        bytes[end..].fill(0);
        Ok(Prepared {
            command,
            arg,
            bytes,
        })
    }

    /// Writes `bytes` at the writable struct address, zeroing the rest of its pages.
    pub fn write_struct(&self, bytes: &[u8]) -> u64 {
        self.mem.put(ARG_RW, &[0; 2 * PAGE as usize]);
        self.mem.put(ARG_RW, bytes);
        ARG_RW
    }

    /// `ioctl(fd, cmd, arg)` on the file the command is made on, or the device file's
    /// `pread`/`pwrite` (its byte count as the result). A device command in a world
    /// without a device is `EBADF`, as on a closed fd.
    pub fn dispatch(&self, p: &Prepared) -> Result<i64, Errno> {
        let caller = Caller::opener(self.mem.as_ref(), &self.fds);
        let device = || self.device.as_ref().ok_or(Errno::EBADF);
        match p.command.target {
            Target::Iommufd => dispatch(&self.ctx, &caller, p.command.cmd, p.arg),
            Target::Device => device()?.ioctl(&caller, p.command.cmd, p.arg),
            Target::DeviceRegion { write } => {
                let (offset, len, buf) = (p.get(0, 8), p.get(8, 8), p.get(16, 8));
                let buf = UserBuffer {
                    // Address 0 stands for the struct's own `data` word.
                    addr: if buf == 0 { p.arg + 24 } else { buf },
                    len: usize::try_from(len).map_err(|_| Errno::EINVAL)?,
                };
                let n = if write {
                    device()?.region_write(&caller, offset, buf)?
                } else {
                    device()?.region_read(&caller, offset, buf)?
                };
                Ok(n as i64)
            }
        }
    }

    /// The struct as the call left it in memory (the bytes written if it cannot be read).
    pub fn read_back(&self, p: &Prepared) -> Prepared {
        let mut out = p.clone();
        if p.command.value_arg || p.command.target != Target::Iommufd {
            return out;
        }
        let n = p.command.size.min(p.bytes.len());
        let _ = uiommu_uapi::UserMemory::read(self.mem.as_ref(), p.arg, &mut out.bytes[..n]);
        out
    }

    /// Closes the device file, every fd and the context: what is left afterwards must be
    /// nothing. Returns the context, weakly, so that the caller can check it is gone.
    pub fn close(
        self,
    ) -> (
        Weak<Context>,
        Arc<PinRegistry>,
        Arc<LockedVm>,
        Arc<LockedVm>,
    ) {
        if let Some(d) = &self.device {
            d.release();
        }
        self.fds.close_all();
        let weak = Arc::downgrade(&self.ctx);
        drop(self.ctx);
        (weak, self.registry, self.user_locked, self.mm_locked)
    }
}
