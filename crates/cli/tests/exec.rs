//! `uiommu exec`: the program runs with the library preloaded, its exit status comes back, and
//! failures to start say what is wrong.

use std::process::{Command, Output};

fn uiommu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_uiommu"))
        .args(args)
        .env_remove("UIOMMU_PRELOAD")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn exit_status_passes_through() {
    for code in [0, 1, 3, 42, 255] {
        let o = uiommu(&["exec", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    }
}

#[test]
fn a_signal_is_128_plus_its_number() {
    let o = uiommu(&["exec", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + 15));
    let o = uiommu(&["exec", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(o.status.code(), Some(128 + 9));
}

#[test]
fn the_program_sees_the_library_and_its_arguments() {
    let o = uiommu(&[
        "exec",
        "--",
        "sh",
        "-c",
        "echo \"$LD_PRELOAD|$UIOMMU_DRIVER|$1\"",
        "sh",
        "--not-an-option",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("libuiommu_preload.so|mock|--not-an-option"),
        "{out}"
    );
}

#[test]
fn the_program_opens_dev_iommu() {
    // `exec 3<>` opens through the shell's libc open, which the library serves.
    let o = uiommu(&[
        "exec",
        "--",
        "sh",
        "-c",
        "exec 3<>/dev/iommu && echo opened",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "opened");
}

#[test]
fn missing_program_is_127_with_a_message() {
    let o = uiommu(&["exec", "--", "/nonexistent/program"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(stderr(&o).contains("/nonexistent/program: program not found"));
}

#[test]
fn missing_library_is_reported() {
    let o = Command::new(env!("CARGO_BIN_EXE_uiommu"))
        .args(["exec", "--", "true"])
        .env("UIOMMU_PRELOAD", "/nonexistent/lib.so")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("UIOMMU_PRELOAD=/nonexistent/lib.so is not a file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn every_listed_driver_serves_dev_iommu() {
    let o = uiommu(&["drivers"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = String::from_utf8_lossy(&o.stdout).into_owned();
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.first(), Some(&"mock"), "the default first: {list}");
    for name in ["vtd", "smmuv3", "amd"] {
        assert!(names.contains(&name), "{name} missing from {list}");
    }
    for name in names {
        let o = uiommu(&[
            "exec",
            "--driver",
            name,
            "--",
            "sh",
            "-c",
            "exec 3<>/dev/iommu && echo \"$UIOMMU_DRIVER\"",
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), name);
    }
}

#[test]
fn unknown_driver_is_rejected() {
    let o = uiommu(&["exec", "--driver", "nosuch", "--", "true"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("nosuch") && e.contains("mock"), "{e}");
}

#[test]
fn a_program_is_required() {
    let o = uiommu(&["exec"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("PROGRAM"));
}

#[test]
fn devices_lists_the_device_models() {
    let o = uiommu(&["devices"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("edu "));
}

#[test]
fn device_options_reach_the_program_resolved() {
    let o = uiommu(&[
        "exec",
        "--device",
        "edu",
        "--device",
        "edu,group=5000",
        "--",
        "sh",
        "-c",
        "echo \"$UIOMMU_DEVICES\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "edu,bdf=0000:00:10.0,group=9999,cdev=0;edu,bdf=0000:00:11.0,group=5000,cdev=1"
    );
}

#[test]
fn an_sriov_device_reaches_the_program_with_its_vfs_placed() {
    let echo = "echo \"$UIOMMU_DEVICES\"";
    let o = uiommu(&["exec", "--device", "ioat,vfs=1", "--", "sh", "-c", echo]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ioat,bdf=0000:00:10.0,group=9999,cdev=0,vfs=1;\
         ioat,bdf=0000:00:10.1,group=9998,cdev=1,physfn=0000:00:10.0"
    );
}

#[test]
fn the_programs_a_shell_runs_see_the_vfs_it_enabled() {
    let script = "p=/sys/bus/pci/devices/0000:00:10.0; \
        echo 1 > $p/sriov_numvfs; \
        cat $p/sriov_numvfs; \
        readlink $p/virtfn0; \
        readlink /sys/bus/pci/devices/0000:00:10.1/physfn; \
        ls /dev/vfio/devices; \
        echo 0 > $p/sriov_numvfs; \
        ls /dev/vfio/devices";
    let o = uiommu(&["exec", "--device", "ioat,vfs=1", "--", "sh", "-c", script]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1\n../0000:00:10.1\n../0000:00:10.0\nvfio0\nvfio1\nvfio0\n"
    );
}

#[test]
fn bad_devices_are_refused_before_the_program_runs() {
    for (spec, msg) in [
        ("nope", "unknown device model \"nope\" (known: edu"),
        ("edu,bdf=0000:00:99.0", "out of range"),
        ("edu,bdf=0:0:1", "malformed PCI address"),
        ("edu,group=x", "malformed IOMMU group"),
        ("edu,vfs=1", "conventional PCI: no extended config space"),
        ("ioat,vfs=8", "do not fit in its slot"),
    ] {
        let o = uiommu(&["exec", "--device", spec, "--", "echo", "ran"]);
        assert_eq!(o.status.code(), Some(2), "{spec}");
        assert!(stderr(&o).contains(msg), "{spec}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let o = uiommu(&[
        "exec",
        "--device",
        "edu,bdf=0000:00:1a.0",
        "--device",
        "edu,bdf=00:1a.0",
        "--",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("two devices at PCI address 0000:00:1a.0"));
}

#[test]
fn shell_tools_see_the_emulated_device_in_sysfs() {
    let script = "d=/sys/bus/pci/devices/0000:00:10.0; \
        ls /sys/bus/pci/devices | grep -c 0000:00:10.0; \
        cat $d/vendor $d/device; \
        readlink -f $d/iommu_group; \
        readlink -f $d; \
        ls $d/vfio-dev; \
        cat $d/vfio-dev/vfio0/dev; \
        ls /dev/vfio/devices; \
        ls /sys/kernel/iommu_groups/9999/devices";
    let o = uiommu(&["exec", "--device", "edu", "--", "sh", "-c", script]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1\n0x1234\n0x11e8\n/sys/kernel/iommu_groups/9999\n\
         /sys/devices/pci0000:00/0000:00:10.0\nvfio0\n511:0\nvfio0\n0000:00:10.0\n"
    );
    assert_eq!(stderr(&o), "");
}

#[test]
fn trace_names_its_file_for_the_library() {
    let show = "echo \"$UIOMMU_TRACE\"";
    let o = uiommu(&["exec", "--trace", "--", "sh", "-c", show]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "-");
    let o = uiommu(&["exec", "--trace=calls.txt", "--", "sh", "-c", show]);
    assert!(o.status.success(), "{}", stderr(&o));
    let here = std::env::current_dir().unwrap().join("calls.txt");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        here.to_str().unwrap()
    );
    let o = uiommu(&["exec", "--", "sh", "-c", show]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "");
}

#[test]
fn the_vfio_container_kind_reaches_the_program() {
    let show = ["--", "sh", "-c", "echo \"$UIOMMU_VFIO_CONTAINER\""];
    for (args, want) in [
        (&[][..], "iommufd"),
        (&["--vfio-container", "type1"][..], "type1"),
        (&["--vfio-container", "iommufd"][..], "iommufd"),
    ] {
        let all: Vec<&str> = ["exec"].iter().chain(args).chain(&show).copied().collect();
        let o = uiommu(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), want);
    }
    let o = uiommu(&["exec", "--vfio-container", "spapr", "--", "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("type1"), "{}", stderr(&o));
}

#[test]
fn the_legacy_container_is_the_vfio_node_across_exec() {
    // `readlink` is a new image: it finds the inherited fd adopted as a container.
    let o = uiommu(&[
        "exec",
        "--vfio-container",
        "type1",
        "--",
        "sh",
        "-c",
        "exec 5<>/dev/vfio/vfio && readlink /proc/self/fd/5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "/dev/vfio/vfio");
}
