//! VT-d hardware layouts, apart from the model's logic (Intel VT-d spec): the capability
//! registers and the unit's configuration ([`regs`]).

pub mod regs;
