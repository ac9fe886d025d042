use super::*;
use crate::placement;
use std::sync::Arc;
use uiommu_core::iommu::DeviceSpec;

fn members(specs: &[&str]) -> Vec<Member> {
    let iommu = uiommu_core::driver::default_model().create();
    let mut functions = crate::sriov::Functions::default();
    placement::parse(specs.iter().copied())
        .unwrap()
        .into_iter()
        .map(|p| {
            let phys = Arc::new(iommu.clone().probe_device(DeviceSpec::default()).unwrap());
            let (f, role) = functions.create(&p, phys).unwrap();
            (p, f, role)
        })
        .collect()
}

fn tree(specs: &[&str]) -> Tree {
    Tree::new(&members(specs))
}

#[test]
fn a_device_has_the_vfio_pci_layout() {
    let t = tree(&["edu", "edu,group=7"]);
    let link = |p: &str| match t.get(p) {
        Some(Node::Link(l)) => l.clone(),
        other => panic!("{p}: {other:?}"),
    };
    assert_eq!(
        link("/sys/bus/pci/devices/0000:00:10.0"),
        "../../../devices/pci0000:00/0000:00:10.0"
    );
    let dir = "/sys/devices/pci0000:00/0000:00:10.0";
    assert_eq!(
        link(&format!("{dir}/iommu_group")),
        "../../../kernel/iommu_groups/9999"
    );
    assert_eq!(
        link("/sys/kernel/iommu_groups/7/devices/0000:00:11.0"),
        "../../../../devices/pci0000:00/0000:00:11.0"
    );
    assert_eq!(
        link("/sys/bus/pci/drivers/vfio-pci/0000:00:11.0"),
        "../../../../devices/pci0000:00/0000:00:11.0"
    );
    let read = |p: &str| String::from_utf8(t.get(p).unwrap().contents()).unwrap();
    assert_eq!(read(&format!("{dir}/vendor")), "0x1234\n");
    assert_eq!(read(&format!("{dir}/vfio-dev/vfio0/dev")), "511:0\n");
    let config = t.get(&format!("{dir}/config")).unwrap().contents();
    assert_eq!(config.len(), 256);
    assert_eq!(
        u32::from_le_bytes(config[..4].try_into().unwrap()),
        0x11e8_1234
    );
    assert!(matches!(
        t.get("/dev/vfio/devices/vfio1"),
        Some(Node::CharDev(511, 1))
    ));
    assert!(matches!(t.get("/dev/vfio/7"), Some(Node::CharDev(510, 1))));
    assert!(matches!(
        t.get("/dev/vfio/vfio"),
        Some(Node::CharDev(10, 196))
    ));
    assert!(matches!(t.get("/dev/iommu"), Some(Node::CharDev(10, 256))));
    assert!(t.get(&format!("{dir}/sriov_totalvfs")).is_none());
}

#[test]
fn directories_list_their_direct_entries() {
    let t = tree(&["edu"]);
    let names = |d: &str| -> Vec<String> {
        t.children(d)
            .into_iter()
            .map(|(n, _)| n.to_string())
            .collect()
    };
    assert_eq!(names("/sys/bus/pci/devices"), ["0000:00:10.0"]);
    assert_eq!(names("/dev/vfio"), ["9999", "devices", "vfio"]);
    assert_eq!(names("/sys/kernel/iommu_groups/9999"), ["devices", "type"]);
    assert!(matches!(t.get("/sys/devices/pci0000:00"), Some(Node::Dir)));
    assert!(matches!(t.get("/sys"), Some(Node::Dir)));
    assert!(names("/sys/devices/pci0000:00/0000:00:10.0").contains(&"vfio-dev".to_string()));
    // Without devices: the two misc nodes only.
    let bare = tree(&[]);
    assert!(matches!(
        bare.get("/dev/iommu"),
        Some(Node::CharDev(10, 256))
    ));
    assert!(matches!(
        bare.get("/dev/vfio/vfio"),
        Some(Node::CharDev(10, 196))
    ));
    assert!(bare.get("/sys/bus/pci/devices").is_none());
}

#[test]
fn group_nodes_are_numbered_in_order_of_first_use() {
    let p = placement::parse(["edu,group=7", "edu", "edu,group=7"]).unwrap();
    assert_eq!(groups(&p), [7, 9999]);
}

#[test]
fn the_iommu_driver_s_debugfs_files_are_read_when_opened() {
    let iommu = uiommu_core::driver::create("vtd").unwrap();
    let phys = Arc::new(iommu.probe_device(DeviceSpec::default()).unwrap());
    let mut t = Tree::default();
    t.add_debugfs(&phys, "0000:00:10.0");
    let path = "/sys/kernel/debug/iommu/intel/0000:00:10.0/domain_translation_struct";
    let node = t.get(path).expect("the VT-d driver's file");
    assert!(matches!(
        t.get("/sys/kernel/debug/iommu/intel"),
        Some(Node::Dir)
    ));
    // Read now: no domain is attached, so the driver shows nothing.
    assert_eq!(node.contents(), b"");
    let paging = phys.driver.domain_alloc_paging(&phys, 0, None).unwrap();
    paging
        .map(0x1000, 0x2000, 0x1000, uiommu_core::iommu::Prot::READ)
        .unwrap();
    phys.driver.attach_dev(&phys, &paging, None).unwrap();
    let text = String::from_utf8(node.contents()).unwrap();
    assert!(
        text.starts_with("Device 0000:00:10.0 with pasid 0 @"),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .starts_with("0x0000000000001 |"),
        "{text}"
    );
    // The mock IOMMU has no debugfs files.
    let mock = uiommu_core::driver::create("mock").unwrap();
    let mut t = Tree::default();
    t.add_debugfs(
        &Arc::new(mock.probe_device(DeviceSpec::default()).unwrap()),
        "x",
    );
    assert!(t.is_empty());
}

#[test]
fn an_sriov_pf_shows_its_vfs_while_numvfs_covers_them() {
    let m = members(&["ioat,vfs=2"]);
    let t = Tree::new(&m);
    let Some(crate::sriov::SriovRole::Pf(pf)) = m[0].2.clone() else {
        panic!("no PF")
    };
    let pf_dir = "/sys/devices/pci0000:00/0000:00:10.0";
    let vf_dir = "/sys/devices/pci0000:00/0000:00:10.1";
    let read = |p: &str| String::from_utf8(t.get(p).unwrap().contents()).unwrap();
    assert_eq!(read(&format!("{pf_dir}/sriov_totalvfs")), "2\n");
    assert_eq!(read(&format!("{pf_dir}/sriov_offset")), "1\n");
    assert_eq!(read(&format!("{pf_dir}/sriov_stride")), "1\n");
    assert_eq!(read(&format!("{pf_dir}/sriov_vf_device")), "2021\n");
    assert_eq!(read(&format!("{pf_dir}/sriov_numvfs")), "0\n");
    assert_eq!(read("/sys/module/vfio_pci/parameters/enable_sriov"), "Y\n");
    // No VF yet: none of its entries, nor its group and cdev nodes.
    assert!(t.get(vf_dir).is_none());
    assert!(t.get(&format!("{pf_dir}/virtfn0")).is_none());
    assert!(t.get("/sys/bus/pci/devices/0000:00:10.1").is_none());
    assert!(t.get("/dev/vfio/9998").is_none());
    assert!(t.get("/dev/vfio/devices/vfio1").is_none());
    let names =
        |d: &str| -> Vec<String> { t.children(d).iter().map(|(n, _)| n.to_string()).collect() };
    assert_eq!(names("/sys/bus/pci/devices"), ["0000:00:10.0"]);
    pf.store_num_vfs(b"1").unwrap();
    assert_eq!(read(&format!("{pf_dir}/sriov_numvfs")), "1\n");
    let link = |p: &str| match t.get(p) {
        Some(Node::Link(l)) => l.clone(),
        other => panic!("{p}: {other:?}"),
    };
    assert_eq!(link(&format!("{pf_dir}/virtfn0")), "../0000:00:10.1");
    assert!(t.get(&format!("{pf_dir}/virtfn1")).is_none());
    assert_eq!(link(&format!("{vf_dir}/physfn")), "../0000:00:10.0");
    assert_eq!(
        link(&format!("{vf_dir}/driver")),
        "../../../bus/pci/drivers/vfio-pci"
    );
    assert_eq!(
        link(&format!("{vf_dir}/iommu_group")),
        "../../../kernel/iommu_groups/9998"
    );
    assert!(matches!(
        t.get("/dev/vfio/devices/vfio1"),
        Some(Node::CharDev(511, 1))
    ));
    assert!(matches!(
        t.get("/dev/vfio/9998"),
        Some(Node::CharDev(510, 1))
    ));
    assert_eq!(read(&format!("{vf_dir}/vfio-dev/vfio1/dev")), "511:1\n");
    assert_eq!(
        names("/sys/bus/pci/devices"),
        ["0000:00:10.0", "0000:00:10.1"]
    );
    pf.store_num_vfs(b"0").unwrap();
    assert!(t.get(vf_dir).is_none());
}
