use super::token::{self, Token};
use super::*;
use crate::placement;
use uiommu_core::iommu::DeviceSpec;
use uiommu_devices::config::sriov::{SRIOV_CTRL, SRIOV_NUM_VF};

const A: Token = [1; 16];
const B: Token = [2; 16];

/// The functions of `specs`, with their roles.
fn roles(specs: &[&str]) -> Vec<(placement::Placement, SharedFunction, Option<SriovRole>)> {
    let iommu = uiommu_core::driver::default_model().create();
    let mut functions = Functions::default();
    placement::parse(specs.iter().copied())
        .unwrap()
        .into_iter()
        .map(|p| {
            let phys = Arc::new(iommu.clone().probe_device(DeviceSpec::default()).unwrap());
            let (f, r) = functions.create(&p, phys).unwrap();
            (p, f, r)
        })
        .collect()
}

fn pf_and_vfs() -> (Arc<SriovPf>, SriovRole, SriovRole, SharedFunction) {
    let r = roles(&["ioat,vfs=2"]);
    let Some(SriovRole::Pf(pf)) = r[0].2.clone() else {
        panic!("no PF")
    };
    let vf0 = r[1].2.clone().unwrap();
    let vf1 = r[2].2.clone().unwrap();
    (pf, vf0, vf1, r[0].1.clone())
}

#[test]
fn vfs_follow_their_pf_with_their_index() {
    let r = roles(&["edu", "ioat,vfs=2"]);
    assert!(r[0].2.is_none());
    let idx: Vec<_> = r[2..]
        .iter()
        .map(|(p, _, role)| match role {
            Some(SriovRole::Vf(_, i)) => (p.bdf.to_string(), *i),
            _ => panic!("not a VF"),
        })
        .collect();
    assert_eq!(
        idx,
        [
            ("0000:00:11.1".to_string(), 0),
            ("0000:00:11.2".to_string(), 1)
        ]
    );
}

#[test]
fn num_vfs_is_stored_as_sriov_numvfs_store_and_vfio_pci_allow() {
    let (pf, vf0, vf1, function) = pf_and_vfs();
    let cfg = |at| {
        let mut w = [0u8; 2];
        function
            .lock()
            .unwrap()
            .config_read(EXTENDED_START + at, &mut w)
            .unwrap();
        u16::from_le_bytes(w)
    };
    assert!(!vf0.present());
    assert_eq!(pf.store_num_vfs(b"x"), Err(Errno::EINVAL));
    assert_eq!(pf.store_num_vfs(b"-1"), Err(Errno::EINVAL));
    assert_eq!(pf.store_num_vfs(b"65536"), Err(Errno::EINVAL));
    assert_eq!(pf.store_num_vfs(b"3"), Err(Errno::ERANGE));
    assert_eq!(pf.store_num_vfs(b"0"), Ok(1), "the current count");
    assert_eq!(pf.store_num_vfs(b"1\n"), Ok(2));
    assert!(vf0.present() && !vf1.present());
    assert_eq!(cfg(SRIOV_NUM_VF), 1);
    assert_eq!(cfg(SRIOV_CTRL), SRIOV_CTRL_VFE | SRIOV_CTRL_MSE);
    assert_eq!(pf.store_num_vfs(b"0x2"), Err(Errno::EBUSY), "1 -> 2");
    assert_eq!(pf.store_num_vfs(b"1"), Ok(1), "unchanged");
    token::opened(Some(&vf0));
    assert_eq!(pf.store_num_vfs(b"0"), Err(Errno::EBUSY), "a VF is open");
    token::closed(Some(&vf0));
    assert_eq!(pf.store_num_vfs(b"00"), Ok(2));
    assert_eq!(pf.num_vfs(), 0);
    assert_eq!((cfg(SRIOV_NUM_VF), cfg(SRIOV_CTRL)), (0, 0));
    assert_eq!(pf.store_num_vfs(b"02"), Ok(2), "octal");
    assert!(vf1.present());
}

#[test]
fn a_vf_needs_its_pfs_current_token() {
    let (pf, vf0, _, _) = pf_and_vfs();
    pf.set_token(A);
    assert_eq!(token::check(Some(&vf0), None), Err(Errno::EACCES));
    assert_eq!(token::check(Some(&vf0), Some(&B)), Err(Errno::EACCES));
    assert_eq!(token::check(Some(&vf0), Some(&A)), Ok(()));
    pf.set_token(B);
    assert_eq!(token::check(Some(&vf0), Some(&A)), Err(Errno::EACCES));
    assert_eq!(token::check(Some(&vf0), Some(&B)), Ok(()));
}

#[test]
fn a_pf_takes_a_token_until_vfs_are_in_use() {
    let (pf, vf0, _, _) = pf_and_vfs();
    let role = SriovRole::Pf(Arc::clone(&pf));
    // No VF user: no token is fine, a token becomes the PF's.
    assert_eq!(token::check(Some(&role), None), Ok(()));
    assert_eq!(token::check(Some(&role), Some(&A)), Ok(()));
    assert_eq!(token::check(Some(&vf0), Some(&A)), Ok(()));
    token::opened(Some(&vf0));
    assert_eq!(pf.users(), 1);
    assert_eq!(token::check(Some(&role), None), Err(Errno::EACCES));
    assert_eq!(token::check(Some(&role), Some(&B)), Err(Errno::EACCES));
    assert_eq!(token::check(Some(&role), Some(&A)), Ok(()));
    token::closed(Some(&vf0));
    assert_eq!(pf.users(), 0);
    assert_eq!(token::check(Some(&role), Some(&B)), Ok(()));
    assert_eq!(
        token::check(Some(&vf0), Some(&B)),
        Ok(()),
        "B is the PF's now"
    );
}

#[test]
fn another_function_refuses_a_token() {
    assert_eq!(token::check(None, Some(&A)), Err(Errno::EINVAL));
    assert_eq!(token::check(None, None), Ok(()));
}

#[test]
fn uuids_parse_in_string_order() {
    let t = token::parse(b"52ac9bff-3a88-4fbd-901a-0d767c3b6c97").unwrap();
    assert_eq!(t[..4], [0x52, 0xac, 0x9b, 0xff]);
    assert_eq!(t[15], 0x97);
    for bad in [
        &b"52ac9bff-3a88-4fbd-901a-0d767c3b6c9"[..],
        b"52ac9bff-3a88-4fbd-901a-0d767c3b6c9g",
        b"52ac9bff+3a88-4fbd-901a-0d767c3b6c97",
    ] {
        assert_eq!(token::parse(bad), Err(Errno::EINVAL));
    }
    let (a, b) = (token::generate(), token::generate());
    assert_ne!(a, b, "random");
    assert_eq!(a[6] >> 4, 4, "version 4");
}

#[test]
fn a_shared_count_is_seen_and_programmed_by_every_pf_over_it() {
    use std::sync::atomic::AtomicU16;
    // Two processes' views of one PF: their own functions, one count.
    static COUNT: AtomicU16 = AtomicU16::new(0);
    let cell = || Some(Arc::new(&COUNT) as Arc<dyn shared::NumVfsCell>);
    let views: Vec<_> = (0..2)
        .map(|_| {
            let iommu = uiommu_core::driver::default_model().create();
            let mut functions = Functions::with_cells(move |i| (i == 0).then(cell).flatten());
            let p = placement::parse(["ioat,vfs=2"]).unwrap()[0];
            let phys = Arc::new(iommu.probe_device(DeviceSpec::default()).unwrap());
            let (f, role) = functions.create(&p, phys).unwrap();
            let Some(SriovRole::Pf(pf)) = role else {
                panic!("no PF")
            };
            (pf, f)
        })
        .collect();
    let num_vf = |f: &SharedFunction| {
        let mut w = [0u8; 2];
        let at = EXTENDED_START + SRIOV_NUM_VF;
        f.lock().unwrap().config_read(at, &mut w).unwrap();
        u16::from_le_bytes(w)
    };
    assert_eq!(views[0].0.store_num_vfs(b"2"), Ok(1));
    assert_eq!(num_vf(&views[1].1), 0, "not looked at yet");
    assert_eq!(views[1].0.num_vfs(), 2);
    assert_eq!(num_vf(&views[1].1), 2, "synced when looked at");
    assert_eq!(views[1].0.store_num_vfs(b"1"), Err(Errno::EBUSY));
    assert_eq!(views[1].0.store_num_vfs(b"0"), Ok(1));
    assert_eq!(views[0].0.num_vfs(), 0);
    assert_eq!(num_vf(&views[0].1), 0);
}
