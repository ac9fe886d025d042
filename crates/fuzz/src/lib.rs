//! A structure-aware fuzzer of [`uiommu_abi::dispatch`], on stable Rust.
//!
//! A [`Sequence`] of up to [`MAX_CALLS`] ioctls — every iommufd command, every
//! `IOMMU_TEST_CMD` operation, the VFIO type1 container commands, and in a third of the
//! sequences the VFIO device file of an emulated edu (bind, attach, info, interrupts,
//! features, `pread`/`pwrite` of config space and BAR 0 that start edu's DMA engine at mapped
//! and unmapped IOVAs) — is generated from a seed
//! ([`generate()`]) with struct sizes at and around their limits, object IDs drawn from the live
//! objects, IOVAs at page and aperture edges, and user pointers into valid, read-only, absent
//! and page-straddling memory. [`run`] plays it on a fresh context behind one of the IOMMU
//! models and checks invariants after every call ([`check`]); a failing sequence is
//! [`minimise`]d and written in a readable text form ([`Sequence::to_text`]) that the
//! regression corpus keeps and `cargo test` replays.

pub mod call;
pub mod campaign;
pub mod check;
pub mod corpus;
pub mod generate;
pub mod minimise;
pub mod run;
pub mod spec;
pub mod world;

pub use call::{ArgPlace, Call, Field, ObjKind, Region, Sequence, Val};
pub use generate::generate;
pub use minimise::minimise;
pub use run::{Failure, run};

/// Most calls in one sequence.
pub const MAX_CALLS: usize = 120;
