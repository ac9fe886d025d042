//! [`MockDevice`]: a selftest mock device (`IOMMU_TEST_OP_MOCK_DOMAIN`) and its attachments.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use uiommu_uapi::selftest::*;

use super::IommufdTest;
use crate::error::Result;
use crate::ids::{DeviceId, HwptId, MockDeviceId, PtId};
use crate::iommufd::Iommufd;
use crate::object::Object;
use crate::pt::PageTable;

/// A mock device: its selftest object (destroyed on drop, which unbinds it), its iommufd
/// device ID and the HWPT it is attached to.
///
/// It holds what it is attached to now — its page table and one per attached PASID — and
/// lets go of a page table once replaced or detached.
///
/// ```no_run
/// use uiommu_client::Iommufd;
///
/// let fd = Iommufd::open()?;
/// let ioas = fd.alloc_ioas()?;
/// let dev = fd.test().mock_domain(&ioas)?;
/// let info = fd.hw_info(dev.dev_id())?;
/// # Ok::<(), uiommu_client::Error>(())
/// ```
#[derive(Debug)]
pub struct MockDevice {
    // Destroyed first (declaration order): the device lets go of its attachments, then they
    // may go.
    obj: Arc<Object>,
    dev_id: DeviceId,
    state: Mutex<Attached>,
}

#[derive(Debug)]
struct Attached {
    hwpt_id: HwptId,
    pt: Arc<Object>,
    pasids: BTreeMap<u32, Arc<Object>>,
}

impl MockDevice {
    pub(super) fn new(
        ctx: &Iommufd,
        stdev_id: u32,
        dev_id: u32,
        hwpt_id: u32,
        pt: &dyn PageTable,
    ) -> Self {
        MockDevice {
            obj: Object::new(ctx, stdev_id, Vec::new()),
            dev_id: DeviceId::from_raw(dev_id),
            state: Mutex::new(Attached {
                hwpt_id: HwptId::from_raw(hwpt_id),
                pt: pt.object().clone(),
                pasids: BTreeMap::new(),
            }),
        }
    }

    fn test(&self) -> IommufdTest {
        IommufdTest::new(&self.obj.ctx)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Attached> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The selftest device object's ID (`out_stdev_id`): the `id` of the selftest's
    /// per-device operations. Not the device ID other commands take: that is
    /// [`dev_id`](Self::dev_id).
    pub fn mock_id(&self) -> MockDeviceId {
        MockDeviceId::from_raw(self.obj.id)
    }

    /// The iommufd device ID (`out_idev_id`): the `dev_id` of HWPT, vIOMMU and hw_info
    /// commands.
    pub fn dev_id(&self) -> DeviceId {
        self.dev_id
    }

    /// The HWPT the device is attached to (`out_hwpt_id`: the automatic one for an IOAS, or
    /// the last replace's `pt_id` as written back).
    pub fn hwpt_id(&self) -> HwptId {
        self.state().hwpt_id
    }

    /// `IOMMU_DESTROY` of the selftest device now rather than on drop.
    pub fn destroy(&self) -> Result<()> {
        self.obj.destroy()
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`: attach to `pt` instead. Returns the HWPT now
    /// attached; the previous page table is no longer held.
    pub fn replace(&self, pt: &dyn PageTable) -> Result<HwptId> {
        let mut st = self.state();
        let id = self.replace_raw(&mut st, pt.as_pt_id())?;
        st.pt = pt.object().clone();
        Ok(id)
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` with any ID, for testing the kernel's checks; the
    /// page table it names is not held.
    pub fn replace_id(&self, pt_id: PtId) -> Result<HwptId> {
        let mut st = self.state();
        self.replace_raw(&mut st, pt_id)
    }

    fn replace_raw(&self, st: &mut Attached, pt_id: PtId) -> Result<HwptId> {
        let m = self
            .test()
            .cmd(self.mock_id(), TestMockDomainReplace { pt_id: pt_id.raw() })?;
        st.hwpt_id = HwptId::from_raw(m.pt_id);
        Ok(st.hwpt_id)
    }

    /// `IOMMU_TEST_OP_PASID_ATTACH`. Returns the HWPT attached.
    pub fn pasid_attach(&self, pasid: u32, pt: &dyn PageTable) -> Result<HwptId> {
        let mut st = self.state();
        let m = self.test().cmd(
            self.mock_id(),
            TestPasidAttach {
                pasid,
                pt_id: pt.as_pt_id().raw(),
            },
        )?;
        st.pasids.insert(pasid, pt.object().clone());
        Ok(HwptId::from_raw(m.pt_id))
    }

    /// `IOMMU_TEST_OP_PASID_REPLACE`. Returns the HWPT attached; the previous page table
    /// of `pasid` is no longer held.
    pub fn pasid_replace(&self, pasid: u32, pt: &dyn PageTable) -> Result<HwptId> {
        let mut st = self.state();
        let m = self.test().cmd(
            self.mock_id(),
            TestPasidReplace {
                pasid,
                pt_id: pt.as_pt_id().raw(),
            },
        )?;
        st.pasids.insert(pasid, pt.object().clone());
        Ok(HwptId::from_raw(m.pt_id))
    }

    /// `IOMMU_TEST_OP_PASID_DETACH`; what `pasid` was attached to is no longer held.
    pub fn pasid_detach(&self, pasid: u32) -> Result<()> {
        let mut st = self.state();
        self.test().cmd(self.mock_id(), TestPasidDetach { pasid })?;
        st.pasids.remove(&pasid);
        Ok(())
    }

    /// `IOMMU_TEST_OP_PASID_CHECK_HWPT`: `pasid` is attached to `hwpt_id` (`None`: to
    /// nothing).
    pub fn pasid_check(&self, pasid: u32, hwpt_id: Option<HwptId>) -> Result<()> {
        self.test()
            .cmd(
                self.mock_id(),
                TestPasidCheck {
                    pasid,
                    hwpt_id: hwpt_id.map_or(0, HwptId::raw),
                },
            )
            .map(|_| ())
    }

    /// How many page tables the device holds (its attachment and one per attached PASID).
    pub fn held_page_tables(&self) -> usize {
        let st = self.state();
        1 + st.pasids.len()
    }
}
