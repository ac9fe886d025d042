use super::*;
use std::cell::Cell;
use uiommu_uapi::Errno;

/// A memory of 64 bytes at 0x1000, counting the accesses that reach it.
struct Plain {
    bytes: RefCell<Vec<u8>>,
    reads: Cell<usize>,
    writes: Cell<usize>,
}

impl Plain {
    fn new(bytes: Vec<u8>) -> Self {
        Plain {
            bytes: RefCell::new(bytes),
            reads: Cell::new(0),
            writes: Cell::new(0),
        }
    }
}

impl UserMemory for Plain {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.reads.set(self.reads.get() + 1);
        let at = addr.checked_sub(0x1000).ok_or(Errno::EFAULT)? as usize;
        let src = self.bytes.borrow();
        buf.copy_from_slice(src.get(at..at + buf.len()).ok_or(Errno::EFAULT)?);
        Ok(())
    }
    fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        self.writes.set(self.writes.get() + 1);
        let at = addr.checked_sub(0x1000).ok_or(Errno::EFAULT)? as usize;
        let mut dst = self.bytes.borrow_mut();
        dst.get_mut(at..at + data.len())
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(data);
        Ok(())
    }
}

#[test]
fn reads_inside_come_from_the_copy_and_stores_reach_the_memory_when_not_writable() {
    let plain = Plain::new((0..64).collect());
    let w = Windowed::new(0x1008, (8..24).collect(), false, &plain);
    let mut buf = [0u8; 4];
    w.read(0x100c, &mut buf).unwrap();
    assert_eq!((buf, plain.reads.get()), ([12, 13, 14, 15], 0));
    w.read(0x1016, &mut buf).unwrap();
    assert_eq!(
        (buf, plain.reads.get()),
        ([22, 23, 24, 25], 1),
        "past its end"
    );
    w.write(0x1006, &[0xaa; 4]).unwrap();
    w.read(0x1008, &mut buf[..2]).unwrap();
    assert_eq!(buf[..2], [0xaa, 0xaa], "the copy follows a store");
    assert_eq!(plain.bytes.borrow()[6..10], [0xaa; 4]);
    w.write(0x100a, &[0xbb]).unwrap();
    assert_eq!(plain.bytes.borrow()[10], 0xbb, "stored at once");
    assert_eq!(w.write(0x1040, &[1]), Err(Errno::EFAULT));
    assert_eq!(w.read(0x0fff, &mut buf), Err(Errno::EFAULT));
}

#[test]
fn stores_into_a_writable_window_wait_for_the_write_back() {
    let plain = Plain::new(vec![0; 64]);
    let w = Windowed::new(0x1010, vec![0; 16], true, &plain);
    w.write(0x1014, &[1, 2]).unwrap();
    w.write(0x1012, &[3]).unwrap();
    assert_eq!(plain.writes.get(), 0, "kept in the copy");
    let mut buf = [0u8; 4];
    w.read(0x1012, &mut buf).unwrap();
    assert_eq!(buf, [3, 0, 1, 2]);
    let (page, fd) = Page::create().unwrap();
    crate::sys::close_raw(fd);
    page.set_window(0x1010, &[0; 16], true);
    w.finish(&page);
    assert_eq!(
        page.written(),
        (2, vec![3, 0, 1, 2]),
        "the range stored, once"
    );
}

#[test]
fn an_access_over_the_window_edge_sees_the_stores_kept() {
    let plain = Plain::new(vec![0; 64]);
    let w = Windowed::new(0x1010, vec![0; 8], true, &plain);
    w.write(0x1016, &[7, 8]).unwrap();
    let mut buf = [0u8; 4];
    w.read(0x1016, &mut buf).unwrap();
    assert_eq!(buf, [7, 8, 0, 0], "written out first, then read");
    assert_eq!(plain.writes.get(), 1);
    let (page, fd) = Page::create().unwrap();
    crate::sys::close_raw(fd);
    page.set_window(0x1010, &[0; 8], true);
    w.finish(&page);
    assert_eq!(page.written(), (0, vec![]), "nothing left to write back");
}

#[test]
fn a_copy_over_the_window_drops_it() {
    let plain = Plain::new(vec![7; 64]);
    let w = Windowed::new(0x1000, vec![0; 16], true, &plain);
    w.copy(0x1004, 0x1020, 4).unwrap();
    let mut buf = [0u8; 4];
    w.read(0x1000, &mut buf).unwrap();
    // One read by the copy itself, one by ours: the window no longer answers it.
    assert_eq!(
        (buf, plain.reads.get()),
        ([7; 4], 2),
        "read from the memory"
    );
}

#[test]
fn a_value_argument_brings_no_window() {
    let (page, fd) = Page::create().unwrap();
    crate::sys::close_raw(fd);
    let arg: [u32; 3] = [12, 0xdead, 0xbeef];
    capture(&page, arg.as_ptr() as u64);
    let (addr, bytes, _) = page.window();
    assert_eq!((addr, bytes.len()), (arg.as_ptr() as u64, 12));
    capture(&page, 1);
    assert!(page.window().1.is_empty());
}

#[test]
fn a_write_back_lands_in_the_callers_struct() {
    let (page, fd) = Page::create().unwrap();
    crate::sys::close_raw(fd);
    let mut arg: [u32; 4] = [16, 1, 2, 3];
    let at = arg.as_mut_ptr() as u64;
    capture(&page, at);
    page.set_written(8, &9u32.to_ne_bytes());
    write_back(&page, at).unwrap();
    // Read through `black_box`: the library wrote the array through its address.
    assert_eq!(std::hint::black_box(&arg)[..], [16, 1, 9, 3]);
}
