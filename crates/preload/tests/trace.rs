//! `UIOMMU_TRACE`: a program's calls on uiommu's nodes, one decoded line each, through the
//! preload library loaded for real (`programs/trace_calls.c`, `programs/trace_queues.c`,
//! `programs/vfio_edu.c`), and the events the models raise.

mod common;

#[test]
fn each_call_is_one_decoded_line() {
    let file = std::env::temp_dir().join(format!("uiommu-trace-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();
    if common::program("trace_calls").is_none() {
        return; // no C compiler
    }
    common::run_program("trace_calls", &[], &[("UIOMMU_TRACE", path)]);
    let text = std::fs::read_to_string(&file).expect("the trace file");
    let _ = std::fs::remove_file(&file);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    let expect = [
        "openat(AT_FDCWD, \"/dev/iommu\", O_RDWR) = 3 <",
        "ioctl(3, IOMMU_IOAS_ALLOC, {size=12, flags=0, out_ioas_id=0}) = 0 => {out_ioas_id=1} <",
        "ioctl(3, IOMMU_DESTROY, {size=8, id=99}) = -1 ENOENT (No such file or directory) <",
        "ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_MOCK_DOMAIN), {size=72, op=2, id=1, __reserved=0, \
         out_stdev_id=0, out_hwpt_id=0, out_idev_id=0}) = 0 => {out_stdev_id=2, out_hwpt_id=4, \
         out_idev_id=3} <",
        "openat(AT_FDCWD, \"/dev/vfio/vfio\", O_RDWR) = 4 <",
        "ioctl(4, VFIO_CHECK_EXTENSION, 0x1) = 1 <",
    ];
    for (line, want) in lines.iter().zip(expect) {
        let call = line.split_once("] ").map_or(*line, |(_, c)| c);
        assert!(line.starts_with("[pid "), "{line}");
        assert!(call.starts_with(want), "got  {call}\nwant {want}");
        assert!(call.ends_with('>'), "{line}");
    }
}

/// The lines of `text` as they compare: without the `[pid N] ` prefix and the time, and with
/// every pointer-sized number (ten hex digits or more: a stack, heap or mapping address) as
/// `0x…`.
fn masked(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            assert!(l.starts_with("[pid "), "{l}");
            let l = l.split_once("] ").map_or(l, |(_, c)| c);
            let l = match l.rfind(" <") {
                Some(i) if l.ends_with('>') => &l[..i],
                _ => l,
            };
            let mut out = String::new();
            let mut rest = l;
            while let Some(i) = rest.find("0x") {
                out += &rest[..i];
                let digits = rest[i + 2..]
                    .find(|c: char| !c.is_ascii_hexdigit())
                    .unwrap_or(rest.len() - i - 2);
                let number = &rest[i..i + 2 + digits];
                out += if digits >= 10 { "0x…" } else { number };
                rest = &rest[i + 2 + digits..];
            }
            out + rest
        })
        .collect()
}

/// Runs `programs/{name}.c` with `env` and the trace on; its lines, or `None` without a C
/// compiler.
fn trace_of(name: &str, env: &[(&str, &str)]) -> Option<String> {
    common::program(name)?;
    let file = std::env::temp_dir().join(format!("uiommu-trace-{name}-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut env = env.to_vec();
    env.push(("UIOMMU_TRACE", file.to_str().unwrap()));
    common::run_program(name, &[], &env);
    let text = std::fs::read_to_string(&file).expect("the trace file");
    let _ = std::fs::remove_file(&file);
    Some(text)
}

#[test]
fn queue_records_iommufd_mmap_and_raised_events_are_lines() {
    let Some(text) = trace_of("trace_queues", &[]) else {
        return; // no C compiler
    };
    let pgfault = "flags=IOMMU_PGFAULT_FLAGS_LAST_PAGE, dev_id=3, pasid=0, grpid=2, \
                   perm=IOMMU_PGFAULT_PERM_READ|IOMMU_PGFAULT_PERM_WRITE, __reserved=0, \
                   addr=0xdeadb000, length=0";
    let expect = [
        "openat(AT_FDCWD, \"/dev/iommu\", O_RDWR) = 3".to_string(),
        "ioctl(3, IOMMU_IOAS_ALLOC, {size=12, flags=0, out_ioas_id=0}) = 0 => {out_ioas_id=1}"
            .into(),
        "ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_MOCK_DOMAIN), {size=72, op=2, id=1, __reserved=0, \
         out_stdev_id=0, out_hwpt_id=0, out_idev_id=0}) = 0 => {out_stdev_id=2, out_hwpt_id=4, \
         out_idev_id=3}"
            .into(),
        "ioctl(3, IOMMU_FAULT_QUEUE_ALLOC, {size=16, flags=0, out_fault_id=0, out_fault_fd=0}) \
         = 0 => {out_fault_id=5, out_fault_fd=4}"
            .into(),
        "ioctl(3, IOMMU_HWPT_ALLOC, {size=48, flags=IOMMU_HWPT_ALLOC_NEST_PARENT, dev_id=3, \
         pt_id=1, out_hwpt_id=0, __reserved=0, data_type=0, data_len=0, data_uptr=0, \
         fault_id=0, __reserved2=0}) = 0 => {out_hwpt_id=6}"
            .into(),
        "ioctl(3, IOMMU_HWPT_ALLOC, {size=48, flags=IOMMU_HWPT_FAULT_ID_VALID, dev_id=3, \
         pt_id=6, out_hwpt_id=0, __reserved=0, data_type=0xdead, data_len=8, data_uptr=0x…, \
         fault_id=5, __reserved2=0}) = 0 => {out_hwpt_id=7}"
            .into(),
        "ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE), {size=72, op=10, id=2, \
         __reserved=0, pt_id=7}) = 0"
            .into(),
        // Raised while the command runs: before its line, as strace shows a signal.
        format!("--- IOMMU page request {{{pgfault}, cookie=0}} ---"),
        "ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_TRIGGER_IOPF), {size=72, op=15, id=0, \
         __reserved=0, dev_id=3, pasid=0, grpid=2, perm=3, addr=0xdeadb000}) = 0"
            .into(),
        format!("read(4, [{{{pgfault}, cookie=1}}], 80) = 40"),
        "write(4, [{cookie=1, code=0}], 8) = 8".into(),
        "ioctl(3, IOMMU_VIOMMU_ALLOC, {size=40, flags=0, type=0xdeadbeef, dev_id=3, hwpt_id=6, \
         out_viommu_id=0, data_len=24, __reserved=0, data_uptr=0x…}) = 0 => {out_viommu_id=4}"
            .into(),
        "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, 3, 0x1000) = 0x…".into(),
        "munmap(0x…, 8192) = 0".into(),
        "ioctl(3, IOMMU_VDEVICE_ALLOC, {size=24, viommu_id=4, dev_id=3, out_vdevice_id=0, \
         virt_id=153}) = 0 => {out_vdevice_id=8}"
            .into(),
        "ioctl(3, IOMMU_HWPT_ALLOC, {size=48, flags=0, dev_id=3, pt_id=4, out_hwpt_id=0, \
         __reserved=0, data_type=0xdead, data_len=8, data_uptr=0x…, fault_id=0, \
         __reserved2=0}) = 0 => {out_hwpt_id=9}"
            .into(),
        "ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE), {size=72, op=10, id=2, \
         __reserved=0, pt_id=9}) = 0"
            .into(),
        "ioctl(3, IOMMU_VEVENTQ_ALLOC, {size=32, flags=0, viommu_id=4, type=0xbeefbeef, \
         veventq_depth=2, out_veventq_id=0, out_veventq_fd=0, __reserved=0}) = 0 => \
         {out_veventq_id=10, out_veventq_fd=5}"
            .into(),
        "--- IOMMU vevent {type=0xbeefbeef, data={virt_id=153}} ---".into(),
        "ioctl(3, IOMMU_TEST_CMD(IOMMU_TEST_OP_TRIGGER_VEVENT), {size=72, op=17, id=0, \
         __reserved=0, dev_id=3}) = 0"
            .into(),
        "read(5, [{flags=0, sequence=0, data={virt_id=153}}], 64) = 12".into(),
        "pread64(3, 0x…, 4, 0x0) = -1 EINVAL (Invalid argument)".into(),
    ];
    let got = masked(&text);
    for (i, want) in expect.iter().enumerate() {
        assert_eq!(got.get(i), Some(want), "line {i} of\n{text}");
    }
    assert_eq!(got.len(), expect.len(), "{text}");
}

#[test]
fn device_io_mmap_and_refused_dma_are_lines() {
    let env = [("UIOMMU_DEVICES", "edu"), ("UIOMMU_DRIVER", "vtd")];
    let Some(text) = trace_of("vfio_edu", &env) else {
        return; // no C compiler
    };
    let got = masked(&text);
    let has = |want: &str| got.iter().any(|l| l == want);
    // read() at the file position (fortified: __read_chk), from BAR 0's start.
    for want in [
        "read(3, BAR0+0x0, 4) = 4 => [0x10000ed]",
        "read(3, BAR0+0x4, 4) = 4 => [0xedcba987]",
        // Vectored register accesses, the values in place of the buffers: a transfer of 256
        // bytes from edu's buffer, then its command register read back (done, IRQ on).
        "pwritev(3, [{iov_base=[0x100], iov_len=8}], 1, BAR0+0x90) = 8",
        "preadv2(3, [{iov_base=[0x4], iov_len=8}], 1, BAR0+0x98, 0) = 8",
        // BAR 0 mapped, vfio-pci's refusals by name, moved and unmapped.
        "mmap(NULL, 1048576, PROT_READ|PROT_WRITE, MAP_PRIVATE, 3, BAR0+0x0) = -1 EINVAL \
         (Invalid argument)",
        "mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3, CONFIG+0x0) = -1 EINVAL (Invalid argument)",
        "mmap(NULL, 1048576, PROT_READ|PROT_WRITE, MAP_SHARED, 3, BAR0+0x0) = 0x…",
        "mremap(0x…, 1048576, 2097152, MREMAP_MAYMOVE) = -1 EFAULT (Bad address)",
        "mremap(0x…, 1048576, 8192, 0) = 0x…",
        "mremap(0x…, 8192, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x…) = 0x…",
        "munmap(0x…, 8192) = 0",
    ] {
        assert!(has(want), "no line {want:?} in\n{text}");
    }
    // The DMA after the unmap: VT-d's fault record, then the device's refused write, both
    // before the register write that started it finishes.
    let fault = "--- IOMMU fault {iommu=vtd, dev_id=1, access=write, iova=0x1000200, \
                 pasid=NO_PASID, reason=NotPresent { stage: First, level: 0 }} ---";
    let at = got.iter().position(|l| l == fault).expect(&text);
    let dma = &got[at + 1];
    assert!(
        dma.starts_with("--- DMA fault {device=0000:")
            && dma.ends_with(
                ", dev_id=1, access=write, iova=0x1000200, pasid=NO_PASID, \
                 answer=fault} ---"
            ),
        "{dma}"
    );
    // The command written: run, to RAM, interrupt.
    assert_eq!(
        got[at + 2],
        "pwritev(3, [{iov_base=[0x7], iov_len=8}], 1, BAR0+0x98) = 8"
    );
    // Each of the two rounds refuses one DMA so, and one started by a store to the mapped
    // BAR, whose lines are written from the SIGSEGV handler that serves the store.
    assert_eq!(got.iter().filter(|l| *l == fault).count(), 2, "{text}");
    let mmio = fault.replace("0x1000200", "0x1100000");
    assert_eq!(got.iter().filter(|l| **l == mmio).count(), 2, "{text}");
}

#[test]
fn region_io_names_the_region_and_the_value() {
    if common::program("vfio_edu").is_none() {
        return; // no C compiler
    }
    let file = std::env::temp_dir().join(format!("uiommu-trace-edu-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let env = [
        ("UIOMMU_DEVICES", "edu"),
        ("UIOMMU_TRACE", file.to_str().unwrap()),
    ];
    common::run_program("vfio_edu", &[], &env);
    let text = std::fs::read_to_string(&file).expect("the trace file");
    let _ = std::fs::remove_file(&file);
    let has = |part: &str| text.lines().any(|l| l.contains(part));
    // The command register read, then written with memory and bus mastering on.
    assert!(has(", CONFIG+0x4, 2) = 2 => [0x"), "{text}");
    assert!(has(", CONFIG+0x4, 2, [0x"), "{text}");
    // edu computes 5! = 120 (0x78), read back by pread from BAR 0.
    assert!(has(", BAR0+0x8, 4) = 4 => [0x78]"), "{text}");
    // The cdev's open, and the device file's own ioctls by their VFIO names.
    assert!(
        has("openat(AT_FDCWD, \"/dev/vfio/devices/vfio0\", O_RDWR|O_CLOEXEC) = "),
        "{text}"
    );
    assert!(has("VFIO_DEVICE_BIND_IOMMUFD, {argsz="), "{text}");
    // The unbound file's refusal, by name.
    assert!(
        has("pread64(") && has("= -1 EINVAL (Invalid argument)"),
        "{text}"
    );
}

#[test]
fn the_mock_s_refusals_are_lines_too() {
    let env = [("UIOMMU_DEVICES", "edu"), ("UIOMMU_DRIVER", "mock")];
    let Some(text) = trace_of("vfio_edu", &env) else {
        return; // no C compiler
    };
    let got = masked(&text);
    // The mock keeps no fault record: the refusal is its event, then the device's DMA.
    for iova in ["0x1000200", "0x1100000"] {
        let fault = format!(
            "--- IOMMU fault {{iommu=mock, dev_id=1, access=write, iova={iova}, \
             pasid=NO_PASID, reason=NotPresent {{ stage: First, level: 0 }}}} ---"
        );
        let at: Vec<usize> = (0..got.len()).filter(|&i| got[i] == fault).collect();
        assert_eq!(at.len(), 2, "{fault} in\n{text}");
        for i in at {
            let dma = &got[i + 1];
            assert!(dma.starts_with("--- DMA fault {device=0000:"), "{dma}");
            assert!(dma.ends_with(&format!("iova={iova}, pasid=NO_PASID, answer=fault}} ---")));
        }
    }
}

#[test]
fn a_fail_nth_file_s_text_is_shown_as_a_string() {
    let Some(text) = trace_of("trace_queues", &[("UIOMMU_FAULT_INJECTION", "1")]) else {
        return; // no C compiler
    };
    let got = masked(&text);
    let tail: Vec<&str> = got.iter().rev().take(3).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "write(6, \"3\", 1) = 1",
            "read(6, \"3\\n\", 16) = 2",
            "write(6, \"0\", 1) = 1"
        ],
        "{text}"
    );
}
