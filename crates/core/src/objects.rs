//! The kinds of objects a context holds (`enum iommufd_object_type`).

use crate::context::Kind;
use crate::ioas::IoPagetable;

/// An object in a context.
#[derive(Debug)]
pub enum Object {
    /// `IOMMUFD_OBJ_IOAS`.
    Ioas(Ioas),
}

/// An I/O address space object (`struct iommufd_ioas`).
#[derive(Default)]
pub struct Ioas {
    /// Its translation state.
    pub iopt: IoPagetable,
}

impl std::fmt::Debug for Ioas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ioas")
            .field("areas", &self.iopt.areas().len())
            .finish_non_exhaustive()
    }
}

impl Kind for Ioas {
    fn of(obj: &Object) -> Option<&Self> {
        match obj {
            Object::Ioas(x) => Some(x),
        }
    }
}
