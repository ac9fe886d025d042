//! The values of the VFIO device file's commands (`vfio_device_*` structs) and of its
//! region accesses: region and IRQ indexes in and just past their ranges, `VFIO_IRQ_SET_*`
//! and `VFIO_DEVICE_FEATURE_*` flag combinations, eventfd arrays, and register writes that
//! start the emulated edu's DMA engine at the IOVAs the sequence mapped.

use super::Gen;
use crate::call::{ArgPlace, Call, Field, ObjKind, Val};
use crate::spec::{self, Command, DEVICE_PWRITE, REGION_ACCESS};
use crate::world::{EVENTFD_BASE, EVENTFDS, IOMMUFD_FD, PAGE};
use rand::Rng;
use uiommu_abi::REGION_SHIFT;
use uiommu_devices::config::spec::{COMMAND, COMMAND_MASTER, COMMAND_MEMORY};
use uiommu_devices::edu::regs::*;
use uiommu_uapi::layout::FieldLayout;
use uiommu_uapi::vfio::*;

/// edu's BAR 0 registers (`docs/specs/edu.rst`): ID, liveness, factorial, status, interrupt
/// status, raise and acknowledge, the DMA engine's source, destination, count and command,
/// and its buffer.
const EDU_REGISTERS: [u64; 12] = [
    IDENTIFICATION,
    LIVENESS,
    FACTORIAL,
    STATUS,
    INTERRUPT_STATUS,
    INTERRUPT_RAISE,
    INTERRUPT_ACK,
    DMA_SOURCE,
    DMA_DESTINATION,
    DMA_COUNT,
    DMA_COMMAND,
    BUFFER_ADDRESS,
];

impl Gen {
    /// The value of field `f` of device command `c`, where the generic rules by name would
    /// not reach the interesting values; `None` to use those.
    pub(super) fn device_value(&mut self, c: &Command, f: &FieldLayout) -> Option<Val> {
        let n = f.c_path;
        let index = |g: &mut Self, count: u32| {
            Val::Lit(match g.rng.random_range(0..10) {
                0 if !g.clean => g.rng.random::<u32>().into(),
                1 => count.into(),
                _ => g.rng.random_range(0..count).into(),
            })
        };
        Some(match (c.name, n) {
            ("VFIO_DEVICE_BIND_IOMMUFD", "iommufd") => match self.rng.random_range(0..10) {
                0 if !self.clean => Val::Fd(self.small(4)),
                1 if !self.clean => Val::Lit(u64::from(u32::MAX)),
                _ => Val::Lit(IOMMUFD_FD as u64),
            },
            ("VFIO_DEVICE_BIND_IOMMUFD", "flags") => {
                Val::Lit(u64::from(!self.clean && self.one_in(8)))
            }
            ("VFIO_DEVICE_ATTACH_IOMMUFD_PT" | "VFIO_DEVICE_DETACH_IOMMUFD_PT", "flags") => {
                Val::Lit(match self.rng.random_range(0..8) {
                    0 => u64::from(VFIO_DEVICE_ATTACH_PASID),
                    1 if !self.clean => self.rng.random::<u32>().into(),
                    _ => 0,
                })
            }
            ("VFIO_DEVICE_GET_REGION_INFO", "index") => index(self, VFIO_PCI_NUM_REGIONS),
            ("VFIO_DEVICE_GET_IRQ_INFO" | "VFIO_DEVICE_SET_IRQS", "index") => {
                index(self, VFIO_PCI_NUM_IRQS)
            }
            ("VFIO_DEVICE_SET_IRQS", "flags") => {
                let data = [
                    VFIO_IRQ_SET_DATA_NONE,
                    VFIO_IRQ_SET_DATA_BOOL,
                    VFIO_IRQ_SET_DATA_EVENTFD,
                ];
                let action = [
                    VFIO_IRQ_SET_ACTION_MASK,
                    VFIO_IRQ_SET_ACTION_UNMASK,
                    VFIO_IRQ_SET_ACTION_TRIGGER,
                ];
                let mut v = data[self.rng.random_range(0..3)] | action[self.rng.random_range(0..3)];
                // Wiring eventfds to the trigger is what users do most.
                if self.clean && self.one_in(2) {
                    v = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
                }
                if !self.clean && self.one_in(6) {
                    v |= 1 << self.rng.random_range(0..8);
                }
                Val::Lit(v.into())
            }
            ("VFIO_DEVICE_SET_IRQS", "start") => Val::Lit(match self.rng.random_range(0..8) {
                0 if !self.clean => self.rng.random::<u32>().into(),
                1..=3 => self.rng.random_range(1..4),
                _ => 0,
            }),
            ("VFIO_DEVICE_SET_IRQS", "count") => Val::Lit(match self.rng.random_range(0..8) {
                0 if !self.clean => self.rng.random::<u32>().into(),
                1 => 0,
                _ => self.rng.random_range(1..=3),
            }),
            ("VFIO_DEVICE_FEATURE", "flags") => {
                let ops = [
                    VFIO_DEVICE_FEATURE_GET,
                    VFIO_DEVICE_FEATURE_SET,
                    VFIO_DEVICE_FEATURE_PROBE,
                ];
                let mut v = ops[self.rng.random_range(0..3)] | self.rng.random_range(0..14);
                if self.one_in(4) {
                    v |= VFIO_DEVICE_FEATURE_PROBE;
                }
                if !self.clean && self.one_in(6) {
                    v = self.rng.random();
                }
                Val::Lit(v.into())
            }
            ("VFIO_DEVICE_GET_PCI_HOT_RESET_INFO", "count") => {
                Val::Lit(self.rng.random_range(0..3))
            }
            _ => return None,
        })
    }

    /// `VFIO_DEVICE_SET_IRQS`'s data after the header: eventfds (or other fds) for
    /// `DATA_EVENTFD`, bools for `DATA_BOOL`; when clean, from 0 and as many as `count` asks
    /// (its field is set to match).
    pub(super) fn irq_set_data(&mut self, len: u16, fields: &mut [Field]) -> (u16, Vec<Field>) {
        let entries = self.rng.random_range(0..=3u16);
        if self.clean {
            for f in fields.iter_mut() {
                match f.offset {
                    12 => f.val = Val::Lit(0),
                    16 => f.val = Val::Lit(entries.max(1).into()),
                    _ => {}
                }
            }
        }
        let at = 20u16;
        let mut fields = Vec::new();
        for i in 0..entries {
            let val = match self.rng.random_range(0..10) {
                0 if !self.clean => Val::Fd(self.small(4)),
                1 => Val::Lit(u64::from(u32::MAX)),
                2 => Val::Lit(u64::from(self.rng.random_range(0..2u32))),
                _ => Val::Lit((EVENTFD_BASE + self.rng.random_range(0..EVENTFDS)) as u64),
            };
            fields.push(Field {
                offset: at + 4 * i,
                width: 4,
                val,
            });
        }
        (len.max(at + 4 * entries), fields)
    }

    /// A `pread` or `pwrite` of the device file: config space, a BAR (edu's registers, its DMA
    /// buffer), a region past the last, or an offset past a region's end; most writes to
    /// edu's DMA registers name an IOVA the sequence mapped or edu's own buffer.
    pub(super) fn region_call(&mut self, c: &Command) -> Call {
        let write = c.name == DEVICE_PWRITE;
        let region: u64 = match self.rng.random_range(0..20) {
            0..=5 => VFIO_PCI_CONFIG_REGION_INDEX.into(),
            6..=17 => VFIO_PCI_BAR0_REGION_INDEX.into(),
            18 if !self.clean => self.rng.random_range(1..12),
            _ => self.rng.random::<u64>() >> REGION_SHIFT,
        };
        let register = EDU_REGISTERS[self.rng.random_range(0..EDU_REGISTERS.len())];
        let within: u64 = match self.rng.random_range(0..10) {
            0..=5 if region == u64::from(VFIO_PCI_BAR0_REGION_INDEX) => register,
            0..=5 => self.rng.random_range(0..0x100),
            6 | 7 => self.rng.random_range(0..0x1000),
            8 => [0xff, 0xffc, 0xfff, 0xf_fffc, 0x10_0000][self.small(5) as usize],
            _ => self.rng.random::<u64>() & ((1 << REGION_SHIFT) - 1),
        };
        let len: u64 = match self.rng.random_range(0..12) {
            0..=3 => 4,
            4..=6 => 8,
            7 => [1, 2][self.small(2) as usize],
            8 => 0,
            9 => self.rng.random_range(3..64),
            10 => PAGE,
            _ => self.rng.random_range(0..(4 * PAGE)),
        };
        let data = match (write, register) {
            (true, DMA_SOURCE | DMA_DESTINATION) if self.one_in(3) => {
                Val::Lit(BUFFER_ADDRESS + 8 * u64::from(self.small(8)))
            }
            (true, DMA_SOURCE | DMA_DESTINATION) => self.iova(),
            (true, DMA_COUNT) => self.len(),
            (true, DMA_COMMAND) => Val::Lit(u64::from(self.rng.random_range(0..8u8))),
            (true, INTERRUPT_RAISE | INTERRUPT_ACK) => {
                let irqs = [IRQ_FACTORIAL, IRQ_DMA, IRQ_FACTORIAL | IRQ_DMA, 0];
                Val::Lit(irqs[self.small(4) as usize].into())
            }
            _ => Val::Lit(self.rng.random()),
        };
        // The data word itself (buf 0) for register-sized accesses; else a buffer.
        let buf = if len <= 8 && !self.one_in(6) {
            Val::Lit(0)
        } else {
            self.ptr()
        };
        let vals = [
            Val::Lit((region << REGION_SHIFT) | within),
            Val::Lit(len),
            buf,
            data,
        ];
        Call {
            name: c.name,
            arg: ArgPlace::Rw,
            len: c.size as u16,
            tail: 0,
            fields: REGION_ACCESS
                .iter()
                .zip(vals)
                .map(|(f, val)| Field {
                    offset: f.offset as u16,
                    width: f.size as u8,
                    val,
                })
                .collect(),
        }
    }

    /// A `pwrite` of `len` bytes of `data` at `offset` of region `region`.
    fn region_write(&mut self, region: u32, offset: u64, len: u64, data: Val) -> Call {
        let c = spec::command(DEVICE_PWRITE).expect("in the table");
        let mut call = self.region_call(c);
        let vals = [
            Val::Lit((u64::from(region) << REGION_SHIFT) | offset),
            Val::Lit(len),
            Val::Lit(0),
            data,
        ];
        for (f, v) in call.fields.iter_mut().zip(vals) {
            f.val = v;
        }
        call
    }

    /// What a device sequence starts with, after the IOAS: the bind, the attach to the IOAS,
    /// a map for the device's DMA, memory decode and bus mastering on (PCI_COMMAND), and
    /// one DMA of edu's engine from its buffer to the first mapped area.
    pub(super) fn device_prologue(&mut self) -> Vec<Call> {
        self.clean = true;
        let cmd = |name| spec::command(name).expect("in the table");
        let mut calls = vec![self.call_of(cmd("VFIO_DEVICE_BIND_IOMMUFD"), None)];
        let mut attach = self.call_of(cmd("VFIO_DEVICE_ATTACH_IOMMUFD_PT"), None);
        for f in attach.fields.iter_mut() {
            match f.offset {
                4 => f.val = Val::Lit(0),
                8 => f.val = Val::Obj(ObjKind::Ioas, 0),
                _ => {}
            }
        }
        calls.push(attach);
        calls.push(self.call_of(cmd("IOMMU_IOAS_MAP"), None));
        let (config, bar0) = (VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_BAR0_REGION_INDEX);
        let command = COMMAND_MEMORY | COMMAND_MASTER;
        calls.push(self.region_write(config, COMMAND.into(), 2, Val::Lit(command.into())));
        calls.push(self.region_write(bar0, DMA_SOURCE, 8, Val::Lit(BUFFER_ADDRESS)));
        calls.push(self.region_write(bar0, DMA_DESTINATION, 8, Val::AreaIova(0, 0)));
        calls.push(self.region_write(bar0, DMA_COUNT, 8, Val::Lit(PAGE)));
        let run = DMA_CMD_RUN | DMA_CMD_TO_RAM;
        calls.push(self.region_write(bar0, DMA_COMMAND, 8, Val::Lit(run)));
        calls
    }
}
