//! `UIOMMU_TRACE`: a program's calls on uiommu's nodes, one decoded line each, through the
//! preload library loaded for real (`programs/trace_calls.c`).

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
