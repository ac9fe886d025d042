//! What a device model reaches of its function: its config space, its interrupts and its DMA
//! port, with the rules of the bus applied (Bus Master Enable gates requests and messages;
//! Status follows the INTx level and master aborts).

use crate::config::ConfigSpace;
use crate::config::spec::{COMMAND_MASTER, STATUS, STATUS_INTERRUPT, STATUS_REC_MASTER_ABORT};
use crate::dma::{CopyAbort, CopySide, DmaAbort, DmaPort};
use crate::irq::Interrupts;
use uiommu_core::dma::DmaError;

/// A function's config space, interrupts and DMA port.
#[derive(Debug)]
pub struct Bus {
    /// Config space.
    pub config: ConfigSpace,
    /// Interrupt state and triggers.
    pub irqs: Interrupts,
    /// Where requests go.
    pub dma: DmaPort,
}

impl Bus {
    fn master(&self) -> bool {
        self.config.command() & COMMAND_MASTER != 0
    }

    /// A memory read request of the function: master-aborts without Bus Master Enable (PCI 3.0
    /// §6.2.2). A read that is refused sets Received Master Abort (§6.2.3; PCIe: an
    /// Unsupported Request completion) and reads all ones; a page request is not a refusal,
    /// the function retries once it is answered.
    pub fn dma_read(&mut self, pasid: u32, iova: u64, buf: &mut [u8]) -> Result<(), DmaAbort> {
        let r = if self.master() {
            self.dma.read(pasid, iova, buf)
        } else {
            buf.fill(0xff);
            Err(DmaAbort::MasterAbort)
        };
        if r.is_err_and(|e| !matches!(e, DmaAbort::Iommu(DmaError::PageRequest(_)))) {
            self.config
                .set_word_bits(STATUS, STATUS_REC_MASTER_ABORT, true);
        }
        r
    }

    /// A memory write request of the function: posted, so its failure leaves no status in
    /// the function, but the model learns of it (the DMA engine reports it synchronously).
    pub fn dma_write(&mut self, pasid: u32, iova: u64, data: &[u8]) -> Result<(), DmaAbort> {
        if !self.master() {
            return Err(DmaAbort::MasterAbort);
        }
        self.dma.write(pasid, iova, data)
    }

    /// The function copies `len` bytes from `src` to `dst` by its own read and write
    /// requests ([`DmaPort::copy`]): without Bus Master Enable the first read master-aborts;
    /// a refused read sets Received Master Abort as [`Self::dma_read`] does.
    pub fn dma_copy(&mut self, pasid: u32, src: u64, dst: u64, len: u64) -> Result<(), CopyAbort> {
        let r = if self.master() {
            self.dma.copy(pasid, src, dst, len)
        } else {
            Err(CopyAbort {
                side: CopySide::Source,
                abort: DmaAbort::MasterAbort,
                done: 0,
            })
        };
        if let Err(e) = &r {
            let page_request = matches!(e.abort, DmaAbort::Iommu(DmaError::PageRequest(_)));
            if e.side == CopySide::Source && !page_request {
                self.config
                    .set_word_bits(STATUS, STATUS_REC_MASTER_ABORT, true);
            }
        }
        r
    }

    /// Signals message `vector` (MSI-X if enabled, else MSI). `false` if neither is enabled.
    pub fn signal(&mut self, vector: u32) -> bool {
        self.irqs.signal(&mut self.config, vector)
    }

    /// Whether MSI or MSI-X is enabled.
    pub fn messages_enabled(&self) -> bool {
        self.irqs.messages_enabled(&self.config)
    }

    /// Sets the function's INTx level; Status.Interrupt Status follows it (§6.2.3).
    pub fn set_intx(&mut self, level: bool) {
        self.config.set_word_bits(STATUS, STATUS_INTERRUPT, level);
        self.irqs.set_intx_level(level);
    }
}
