//! An iommufd given up without `close` (a `syscall()` close, close_range or dup2 over it,
//! `closefrom`), through the preload library loaded for real: the table sees it go, so a file
//! later opened at the number answers for itself (`programs/fd_reuse.c`).

mod common;

#[test]
fn a_number_given_up_without_close_names_the_next_file() {
    common::run_program("fd_reuse", &[], &[]);
}
