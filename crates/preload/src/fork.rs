//! `fork` safety.
//!
//! A child of `fork` has one thread, a copy of the forking one, and a copy of every lock as it
//! was. A lock another thread held at that moment would stay held forever in the child, so the
//! prepare handler takes the locks this library owns, in a fixed order, and both sides release
//! them after the fork:
//!
//! 1. the command gate (write): every command holds it for reading while it runs in core, so
//!    taking it waits for commands in flight and the child never sees a context whose internal
//!    locks were held mid-command;
//! 2. the fd table (write).
//!
//! The gate comes first because a running command may itself open files (`/proc/self/maps`)
//! and so take the table lock.

use crate::sys;
use crate::table::{TABLE, TableGuard};
use std::cell::RefCell;
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

type Held = (RwLockWriteGuard<'static, ()>, TableGuard<'static>);

thread_local! {
    /// The locks taken by `prepare`, released by `parent` or `child` on the same thread.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// Held while a command runs in core.
pub fn command_guard() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|e| e.into_inner())
}

/// Registers the handlers, once, when the first virtual fd is made.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| sys::atfork(prepare, release, release));
}

extern "C" fn prepare() {
    let _ = std::panic::catch_unwind(|| {
        let gate = GATE.write().unwrap_or_else(|e| e.into_inner());
        let table = TABLE.write();
        HELD.with(|h| *h.borrow_mut() = Some((gate, table)));
    });
}

extern "C" fn release() {
    let _ = std::panic::catch_unwind(|| {
        if let Some((gate, table)) = HELD.with(|h| h.borrow_mut().take()) {
            drop(table);
            drop(gate);
        }
    });
}
