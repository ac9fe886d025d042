use super::*;

#[test]
fn addresses_parse_and_print_as_the_kernel_names_them() {
    let b: Bdf = "0000:00:1f.7".parse().unwrap();
    assert_eq!(b.to_string(), "0000:00:1f.7");
    assert_eq!("3:0a.1".parse::<Bdf>().unwrap().to_string(), "0000:03:0a.1");
    for bad in [
        "",
        "0000:00:20.0",
        "00:00.8",
        "0000:00:00",
        "x:00:00.0",
        "1:2:3:4.0",
    ] {
        assert!(bad.parse::<Bdf>().is_err(), "{bad}");
    }
}

#[test]
fn defaults_count_slots_up_and_groups_down() {
    let d = parse(["edu", "edu,bdf=0000:00:10.0,group=9998", "edu"]).unwrap();
    let got: Vec<_> = d
        .iter()
        .map(|p| (p.bdf.to_string(), p.group, p.cdev))
        .collect();
    assert_eq!(
        got,
        [
            ("0000:00:11.0".to_string(), 9999, 0),
            ("0000:00:10.0".to_string(), 9998, 1),
            ("0000:00:12.0".to_string(), 9997, 2),
        ]
    );
    assert_eq!(
        format_list(&d[..1]),
        "edu,bdf=0000:00:11.0,group=9999,cdev=0"
    );
    let back = parse_list(&format_list(&d)).unwrap();
    assert_eq!(format_list(&back), format_list(&d));
}

#[test]
fn default_cdevs_skip_the_named_and_the_hosts() {
    let d = parse_on_host(["edu", "edu,cdev=1", "edu"], &|n| n == 0 || n == 2).unwrap();
    let cdevs: Vec<u32> = d.iter().map(|p| p.cdev).collect();
    assert_eq!(cdevs, [3, 1, 4]);
    let back = parse_list(&format_list(&d)).unwrap();
    assert_eq!(back.iter().map(|p| p.cdev).collect::<Vec<_>>(), cdevs);
    let dup = parse(["edu,cdev=2", "edu,cdev=2"]).unwrap_err();
    assert!(dup.contains("two devices with VFIO cdev index 2"), "{dup}");
    assert!(
        parse(["edu,cdev=x"])
            .unwrap_err()
            .contains("malformed VFIO cdev")
    );
}

#[test]
fn bad_input_is_an_error_that_says_what() {
    let e = parse(["nope"]).unwrap_err();
    assert!(e.contains("edu") && e.contains("uiommu devices"), "{e}");
    assert!(
        parse(["edu,bdf=zz"])
            .unwrap_err()
            .contains("malformed PCI address")
    );
    assert!(
        parse(["edu,group=-1"])
            .unwrap_err()
            .contains("malformed IOMMU group")
    );
    assert!(parse(["edu,group=4294967295"]).is_err());
    assert!(
        parse(["edu,color=red"])
            .unwrap_err()
            .contains("unknown device option")
    );
    let dup = parse(["edu,bdf=00:10.0", "edu,bdf=0000:00:10.0"]).unwrap_err();
    assert!(dup.contains("two devices"), "{dup}");
    assert!(parse_list("").unwrap().is_empty());
}

#[test]
fn an_sriov_device_places_its_vfs_in_its_slot() {
    let d = parse(["ioat,vfs=2", "edu"]).unwrap();
    let got: Vec<_> = d.iter().map(Placement::to_string).collect();
    assert_eq!(
        got,
        [
            "ioat,bdf=0000:00:10.0,group=9999,cdev=0,vfs=2",
            "ioat,bdf=0000:00:10.1,group=9998,cdev=1,physfn=0000:00:10.0",
            "ioat,bdf=0000:00:10.2,group=9997,cdev=2,physfn=0000:00:10.0",
            "edu,bdf=0000:00:11.0,group=9996,cdev=3",
        ]
    );
    let back = parse_list(&format_list(&d)).unwrap();
    assert_eq!(format_list(&back), format_list(&d));
    // A VF named as an item keeps its group and cdev.
    let named = parse([
        "ioat,vfs=1",
        "ioat,bdf=00:10.1,physfn=00:10.0,group=5,cdev=9",
    ])
    .unwrap();
    assert_eq!((named[1].group, named[1].cdev), (5, 9));
    assert_eq!(named.len(), 2);
}

#[test]
fn bad_sriov_input_is_an_error_that_says_what() {
    let e = parse(["edu,vfs=1"]).unwrap_err();
    assert!(e.contains("conventional PCI"), "{e}");
    assert!(parse(["ioat,vfs=0"]).is_err());
    assert!(
        parse(["ioat,vfs=x"])
            .unwrap_err()
            .contains("malformed VF count")
    );
    let e = parse(["ioat,vfs=8"]).unwrap_err();
    assert!(e.contains("do not fit in its slot"), "{e}");
    assert!(parse(["ioat,bdf=00:10.1,vfs=7"]).is_err());
    let e = parse(["ioat,vfs=1", "edu,bdf=00:10.1"]).unwrap_err();
    assert!(e.contains("two devices at PCI address 0000:00:10.1"), "{e}");
    let e = parse(["ioat,vfs=1", "ioat,bdf=00:10.2,physfn=00:10.0"]).unwrap_err();
    assert!(e.contains("not a VF address"), "{e}");
    assert!(parse(["ioat,physfn=00:10.0"]).is_err());
    let e = parse(["ioat,vfs=1", "edu,bdf=00:10.1,physfn=00:10.0"]).unwrap_err();
    assert!(e.contains("not of its PF's model"), "{e}");
}
