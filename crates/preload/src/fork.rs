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
//! 2. the fd table (write);
//! 3. what sharing the contexts with the child needs (see [`crate::share`]), made while both
//!    are held so that the child's table and the owner's handles agree.
//!
//! The gate comes first because a running command may itself open files (`/proc/self/maps`)
//! and so take the table lock.

use crate::share::{self, Pending};
use crate::sys;
use crate::table::{TABLE, TableGuard};
use std::cell::{Cell, RefCell};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

type Held = (RwLockWriteGuard<'static, ()>, TableGuard<'static>, Pending);

thread_local! {
    /// The locks taken by `prepare`, released by `parent` or `child` on the same thread.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
    /// How many [`CommandGuard`]s this thread holds.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// The gate held for reading while a command (or a file's release) runs in core.
///
/// Re-entrant on one thread: a file released from inside a command (a command's reply failed
/// and it takes back the fd it made) does not take the gate a second time, which could wait
/// behind a `fork` that is itself waiting for this command.
pub struct CommandGuard {
    _read: Option<RwLockReadGuard<'static, ()>>,
}

impl Drop for CommandGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Takes the gate for reading, unless this thread already holds it.
pub fn command_guard() -> CommandGuard {
    let outer = DEPTH.with(|d| {
        let n = d.get();
        d.set(n.saturating_add(1));
        n == 0
    });
    CommandGuard {
        _read: outer.then(|| GATE.read().unwrap_or_else(|e| e.into_inner())),
    }
}

/// Registers the handlers, once, when the first virtual fd is made.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| sys::atfork(prepare, parent, child));
}

extern "C" fn prepare() {
    let _ = std::panic::catch_unwind(|| {
        let gate = GATE.write().unwrap_or_else(|e| e.into_inner());
        // As for any file of ours put at a number: the socket pair `share` makes is created at
        // the lowest free numbers before it is moved up, so a call forwarded meanwhile may
        // meet it and must ask again (see `crate::table`).
        let table = TABLE.write_new();
        let pending = share::prepare(&table);
        HELD.with(|h| *h.borrow_mut() = Some((gate, table, pending)));
    });
}

extern "C" fn parent() {
    let _ = std::panic::catch_unwind(|| {
        if let Some((gate, table, pending)) = HELD.with(|h| h.borrow_mut().take()) {
            drop(table);
            drop(gate);
            share::parent(pending);
        }
    });
}

extern "C" fn child() {
    crate::process::forked();
    let _ = std::panic::catch_unwind(|| {
        if let Some((gate, mut table, pending)) = HELD.with(|h| h.borrow_mut().take()) {
            let stale = table.settle_closing();
            share::child(pending, &mut table);
            drop(table);
            drop(gate);
            drop(stale);
        }
    });
}
