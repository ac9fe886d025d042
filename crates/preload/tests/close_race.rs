//! A call racing the close of its fd, through the preload library loaded for real: threads loop
//! `IOMMU_DESTROY` of a missing ID on an iommufd while the main thread closes it and opens the
//! next one, usually at the same number (`programs/close_race.c`, a fixed number of cycles).
//! Every answer must be the command's own (`ENOENT`) or `EBADF`, as Linux gives: never an
//! answer from the file behind the fd (`ENOTTY`), whether the fd goes by `close`,
//! `close_range`, or a `dup2` of another iommufd over it.

mod common;

fn race(how: &str) {
    common::run_program("close_race", &[how], &[]);
}

#[test]
fn an_ioctl_racing_close_answers_or_is_ebadf() {
    race("close");
}

#[test]
fn an_ioctl_racing_close_range_answers_or_is_ebadf() {
    race("close_range");
}

#[test]
fn an_ioctl_racing_dup2_over_its_fd_answers() {
    race("dup2");
}
