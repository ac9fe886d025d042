//! One I/OAT DMA channel: its registers, its states and the descriptor chain it walks.
//!
//! # States (CHANSTS bits 2:0)
//! After a reset the channel is **halted**. Software writes CHAINADDR (the first
//! descriptor's IOVA, 64-byte aligned) and then DMACOUNT: from the halted or **suspended**
//! state, that write starts the chain at CHAINADDR with the channel's count of processed
//! descriptors at zero, as Linux's `__ioat_restart_chan` and the VFIO selftest driver rely
//! on (they write CHAINADDR, then DMACOUNT counting from zero). The channel is **active**
//! while its processed count differs from DMACOUNT, and **done** (idle) once they match; a
//! later DMACOUNT write from the done state appends: the chain continues from the last
//! descriptor's `next`. SUSPEND takes an active or done channel to suspended, RESUME takes it
//! back where it was, ABORT and any error halt it, RESET halts it with its registers at their
//! power-on values (CHANERR excepted: drivers clear the errors before a reset).
//!
//! # Processing each descriptor (`struct ioat_dma_descriptor`)
//! 1. The 64 bytes are fetched through the IOMMU; a refusal is NEXT_ADDR_ERR. The first
//!    descriptor must be 64-byte aligned (CHAIN_ADDR_VALUE_ERR, when the chain starts), so
//!    must each `next` (NEXT_DESC_ALIGN_ERR, when it is to be fetched).
//! 2. A size of 0 or above 2^XFERCAP is LENGTH_ERR; an operation other than copy is
//!    CONTROL_ERR (the DMA capability register offers none); a null descriptor moves nothing.
//! 3. The copy moves `size` bytes from `src` to `dst`, each page of both through the IOMMU
//!    ([`Bus::dma_copy`]). A refused source read is READ_DATA_ERR, a refused destination
//!    write WRITE_DATA_ERR: this engine sits in the root complex with the remapping unit and
//!    learns of a refused write, so Linux's `ioat_eh` can fail the descriptor with
//!    `DMA_TRANS_READ_FAILED` or `DMA_TRANS_WRITE_FAILED`. The bytes before the refused page
//!    are written; the IOMMU records its fault as for any request.
//! 4. The descriptor is complete: CHANSTS takes its address, the count advances, the
//!    completion (CHANSTS's value) is written to CHANCMP if the descriptor asks
//!    (COMPL_WRITE; a refusal is COMPLETION_ADDR_ERR), and the channel asks for an interrupt
//!    if it asks (INT_EN).
//!
//! An error sets its CHANERR bit and halts the channel (every error modelled is one after
//! which the data did not move, so ANY_ERR_ABORT_EN changes nothing, and CHANERR_MASK, which
//! Linux sets only for the XOR and P+Q check results, is stored and masks nothing); CHANSTS
//! keeps the last completed descriptor, CDAR names the failed one. With ERR_COMPLETION_EN the
//! completion is written, with ERR_INT_EN the channel asks for an interrupt. An interrupt is
//! granted only while CHANCTRL's INT_REARM is set, and clears it: software re-arms after each
//! (one asked for while disarmed is not kept for later).
//!
//! # Timing
//! As edu's engine, the chain runs to its end inside the register write that starts it: a
//! driver polling CHANSTS sees it done (or halted) at its first read. No interval exists in
//! which the channel reads as active; nothing a driver may rely on needs one.

use super::regs::*;
use crate::access::le_value;
use crate::bus::Bus;
use crate::dma::{CopyAbort, CopySide};
use uiommu_core::iommu::NO_PASID;

/// The channel's state (CHANSTS bits 2:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Descriptors issued and not yet processed.
    Active = 0,
    /// Every issued descriptor processed (idle).
    Done = 1,
    /// Suspended by software.
    Suspended = 2,
    /// Stopped by reset, abort or an error.
    Halted = 3,
}

/// A channel's registers and progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    ctrl: u16,
    dmacount: u16,
    state: State,
    /// The state a suspended channel resumes to.
    resume_to: State,
    completed: u64,
    chainaddr: u64,
    completion: u64,
    current: u64,
    err: u32,
    err_mask: u32,
    /// Descriptors processed since the chain started, modulo 2^16.
    processed: u16,
    /// The next descriptor to fetch.
    next: u64,
    /// The refusal behind the last data error, kept for inspection.
    dma_abort: Option<CopyAbort>,
}

impl Default for Channel {
    fn default() -> Self {
        Channel {
            ctrl: 0,
            dmacount: 0,
            state: State::Halted,
            resume_to: State::Done,
            completed: 0,
            chainaddr: 0,
            completion: 0,
            current: 0,
            err: 0,
            err_mask: 0,
            processed: 0,
            next: 0,
            dma_abort: None,
        }
    }
}

/// A register of the channel block that takes writes: offset and width.
const WRITABLE: [(u64, usize); 7] = [
    (CHANCTRL, 2),
    (CHANCMD, 1),
    (DMACOUNT, 2),
    (CHAINADDR, 8),
    (CHANCMP, 8),
    (CHANERR, 4),
    (CHANERR_MASK, 4),
];

impl Channel {
    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// CHANERR.
    pub fn errors(&self) -> u32 {
        self.err
    }

    /// The refusal behind the last READ_DATA_ERR, WRITE_DATA_ERR, NEXT_ADDR_ERR or
    /// COMPLETION_ADDR_ERR, kept until reset (hardware keeps only the CHANERR bit).
    pub fn dma_abort(&self) -> Option<CopyAbort> {
        self.dma_abort
    }

    /// CHANSTS.
    fn status(&self) -> u64 {
        (self.completed & CHANSTS_COMPLETED_ADDR) | self.state as u64
    }

    /// The aligned 8 bytes of the block at `at` (a multiple of 8).
    fn qword(&self, at: u64) -> u64 {
        match at {
            CHANCTRL => {
                u64::from(self.ctrl)
                    | u64::from(DMA_COMP_VALUE) << 16
                    | u64::from(self.dmacount) << 48
            }
            CHANSTS => self.status(),
            CHAINADDR => self.chainaddr,
            CHANCMP => self.completion,
            CDAR => self.current,
            CHANERR => u64::from(self.err) | u64::from(self.err_mask) << 32,
            _ => 0,
        }
    }

    /// A read of `data.len()` bytes at `offset` in the channel's block (an aligned access:
    /// it does not cross 8 bytes).
    pub fn read(&self, offset: u64, data: &mut [u8]) {
        let q = self.qword(offset & !7);
        let shift = 8 * (offset & 7);
        for (i, b) in data.iter_mut().enumerate() {
            *b = (q >> (shift + 8 * i as u64)) as u8;
        }
    }

    /// A write of `data` at `offset` in the block: each register it covers takes the bytes
    /// it covers, in the order CHANCTRL, CHANCMD, DMACOUNT (so that one wide write can arm
    /// the interrupt and then start the chain). Returns whether the channel asks for an
    /// interrupt.
    pub fn write(&mut self, bus: &mut Bus, xfercap: u8, offset: u64, data: &[u8]) -> bool {
        let end = offset + data.len() as u64;
        let mut attention = false;
        for (at, len) in WRITABLE {
            let (lo, hi) = (offset.max(at), end.min(at + len as u64));
            if lo >= hi {
                continue;
            }
            // The register's value with the written bytes merged, and the written bits.
            let mut bytes = self.qword(at & !7).to_le_bytes();
            let base = (at & 7) as usize;
            let mut written = [0u8; 8];
            for a in lo..hi {
                let b = data[(a - offset) as usize];
                bytes[(a & 7) as usize] = b;
                written[(a & 7) as usize] = b;
            }
            let value = le_value(&bytes[base..base + len]);
            let written = le_value(&written[base..base + len]);
            attention |= self.store(bus, xfercap, at, value, written);
        }
        attention
    }

    /// Stores `value` into the register at `at` (`written`: the bits the access carried).
    fn store(&mut self, bus: &mut Bus, xfercap: u8, at: u64, value: u64, written: u64) -> bool {
        match at {
            CHANCTRL => self.ctrl = value as u16 & CHANCTRL_RW,
            CHANCMD => return self.command(bus, xfercap, written as u8),
            DMACOUNT => {
                self.dmacount = value as u16;
                return self.issue(bus, xfercap);
            }
            CHAINADDR => self.chainaddr = value,
            CHANCMP => self.completion = value,
            CHANERR => self.err &= !(written as u32),
            CHANERR_MASK => self.err_mask = value as u32,
            _ => {}
        }
        false
    }

    /// A CHANCMD write: RESET before ABORT before SUSPEND before RESUME.
    fn command(&mut self, bus: &mut Bus, xfercap: u8, cmd: u8) -> bool {
        if cmd & CHANCMD_RESET != 0 {
            *self = Channel {
                err: self.err,
                ..Channel::default()
            };
            return false;
        }
        if cmd & CHANCMD_ABORT != 0 {
            self.state = State::Halted;
            return false;
        }
        if cmd & CHANCMD_SUSPEND != 0 && matches!(self.state, State::Active | State::Done) {
            self.resume_to = self.state;
            self.state = State::Suspended;
            return false;
        }
        if cmd & CHANCMD_RESUME != 0 && self.state == State::Suspended {
            self.state = self.resume_to;
            return self.run(bus, xfercap);
        }
        false
    }

    /// A DMACOUNT write: a halted or suspended channel starts at CHAINADDR; an active or
    /// done one goes on from where it is.
    fn issue(&mut self, bus: &mut Bus, xfercap: u8) -> bool {
        if matches!(self.state, State::Halted | State::Suspended) {
            if self.chainaddr % DESC_SIZE != 0 {
                self.current = self.chainaddr;
                return self.fail(bus, CHANERR_CHAIN_ADDR_VALUE);
            }
            self.next = self.chainaddr;
            self.processed = 0;
            self.state = State::Active;
        }
        self.run(bus, xfercap)
    }

    /// Processes descriptors until the count reaches DMACOUNT or one fails. Returns whether
    /// the channel asks for an interrupt.
    fn run(&mut self, bus: &mut Bus, xfercap: u8) -> bool {
        let mut attention = false;
        while self.state == State::Active || self.state == State::Done {
            if self.processed == self.dmacount {
                self.state = State::Done;
                break;
            }
            self.state = State::Active;
            let at = self.next;
            self.current = at;
            if at % DESC_SIZE != 0 {
                return attention | self.fail(bus, CHANERR_NEXT_DESC_ALIGN);
            }
            let desc = match self.execute(bus, xfercap, at) {
                Ok(desc) => desc,
                Err(bits) => return attention | self.fail(bus, bits),
            };
            self.processed = self.processed.wrapping_add(1);
            self.completed = at;
            self.next = desc.next;
            if self.processed == self.dmacount {
                self.state = State::Done;
            }
            if desc.ctl & CTL_COMPL_WRITE != 0 && !self.write_completion(bus) {
                return attention | self.fail(bus, CHANERR_COMPLETION_ADDR);
            }
            if desc.ctl & CTL_INT_EN != 0 {
                attention |= self.interrupt();
            }
        }
        attention
    }

    /// Fetches, checks and carries out the descriptor at `at`; the CHANERR bits if it fails.
    fn execute(&mut self, bus: &mut Bus, xfercap: u8, at: u64) -> Result<Descriptor, u32> {
        let mut raw = [0u8; DESC_SIZE as usize];
        if let Err(abort) = bus.dma_read(NO_PASID, at, &mut raw) {
            self.dma_abort = Some(CopyAbort {
                side: CopySide::Source,
                abort,
                done: 0,
            });
            return Err(CHANERR_NEXT_ADDR);
        }
        let desc = Descriptor::parse(&raw);
        if desc.size == 0 || u64::from(desc.size) > 1u64 << xfercap {
            return Err(CHANERR_LENGTH);
        }
        if desc.ctl & CTL_NULL != 0 {
            return Ok(desc);
        }
        if desc.op() != OP_COPY {
            return Err(CHANERR_CONTROL);
        }
        match bus.dma_copy(NO_PASID, desc.src, desc.dst, desc.size.into()) {
            Ok(()) => Ok(desc),
            Err(e) => {
                self.dma_abort = Some(e);
                Err(match e.side {
                    CopySide::Source => CHANERR_READ_DATA,
                    CopySide::Destination => CHANERR_WRITE_DATA,
                })
            }
        }
    }

    /// Writes CHANSTS's value to CHANCMP; false if the write was refused.
    fn write_completion(&mut self, bus: &mut Bus) -> bool {
        match bus.dma_write(NO_PASID, self.completion, &self.status().to_le_bytes()) {
            Ok(()) => true,
            Err(abort) => {
                self.dma_abort = Some(CopyAbort {
                    side: CopySide::Destination,
                    abort,
                    done: 0,
                });
                false
            }
        }
    }

    /// The channel halts with `bits` in CHANERR; the error completion and interrupt follow
    /// if CHANCTRL asks for them. Returns whether the channel asks for an interrupt.
    fn fail(&mut self, bus: &mut Bus, bits: u32) -> bool {
        self.err |= bits;
        self.state = State::Halted;
        if self.ctrl & CHANCTRL_ERR_COMPLETION_EN != 0 && bits != CHANERR_COMPLETION_ADDR {
            let _ = self.write_completion(bus);
        }
        self.ctrl & CHANCTRL_ERR_INT_EN != 0 && self.interrupt()
    }

    /// An interrupt if armed; it disarms.
    fn interrupt(&mut self) -> bool {
        let armed = self.ctrl & CHANCTRL_INT_REARM != 0;
        self.ctrl &= !CHANCTRL_INT_REARM;
        armed
    }
}
