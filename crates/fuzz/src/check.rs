//! The invariants checked after every call and at teardown.
//!
//! After each call, from a [`Snapshot`] of the object IDs and of every IOAS's areas taken
//! before and after it:
//!
//! - a failed call creates and destroys no object;
//! - a map (`IOMMU_IOAS_MAP`, `IOMMU_IOAS_COPY`, `VFIO_IOMMU_MAP_DMA`) that succeeds adds areas
//!   to its IOAS that exactly tile the range asked for, backed by the user addresses asked for
//!   (for a copy, those behind the source range), and changes nothing else; one that fails
//!   changes nothing;
//! - an unmap (`IOMMU_IOAS_UNMAP`, `VFIO_IOMMU_UNMAP_DMA`) only removes areas that lie wholly in
//!   its range, from its IOAS; one that succeeds leaves no area in the range and reports the
//!   bytes it removed;
//! - any other call leaves every area as it was (`IOMMU_IOAS_CHANGE_PROCESS` may move the user
//!   addresses behind them, not their IOVAs);
//! - every paging HWPT translates every page of every area of its IOAS to the page behind it
//!   (`IOMMU_TEST_OP_MD_CHECK_MAP` for the mock's domains, `iova_to_phys` for the others);
//! - a page is pinned only if an area covers it, at most once per covering area, and no more
//!   pages are charged to `locked_vm` than are pinned.
//!
//! Where Linux 7.3 commits before failing, the check accepts both outcomes:
//!
//! - `VFIO_DEVICE_ATTACH_IOMMUFD_PT` that faults writing `pt_id` back detaches the device,
//!   freeing the automatic domain it had (`vfio_df_ioctl_attach_pt`);
//! - `IOMMU_IOAS_MAP` and `IOMMU_IOAS_COPY` map, then write the IOVA back: if that faults
//!   (`EFAULT`) the mapping stays (`iommufd_ioas_map`, `iommufd_ioas_copy`);
//! - `IOMMU_IOAS_UNMAP` and `VFIO_IOMMU_UNMAP_DMA` unmap area by area: one that stops with
//!   `ENOENT` (an area straddling the range's end), `EBUSY`, or `EFAULT` writing the length
//!   back keeps the areas already removed (`iopt_unmap_iova_range`);
//! - `VFIO_IOMMU_UNMAP_DMA` with large pages disabled (type1 v1) cuts the areas at the range's
//!   end, then at its start: a start the IOVA alignment refuses fails with `EINVAL` after the
//!   end's cut (`iopt_cut_iova`).
//!
//! At teardown, after every fd and the context are closed: the context is gone, no page is
//! pinned and nothing is charged to `locked_vm`.

use crate::spec::Target;
use crate::world::{AreaView, PAGE, Prepared, World, pinnable_pages};
use std::collections::{BTreeMap, BTreeSet};
use uiommu_core::hwpt::HwptPaging;
use uiommu_uapi::Errno;
use uiommu_uapi::iommufd::IOMMU_IOAS_MAP_FIXED_IOVA;
use uiommu_uapi::selftest::{
    IOMMU_TEST_CMD, IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, IOMMU_TEST_OP_PASID_REPLACE, IommuTestCmd,
    TestCheckMap,
};
use uiommu_uapi::vfio::{VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DMA_UNMAP_FLAG_ALL};
use zerocopy::IntoBytes;

/// Object IDs and every IOAS's areas at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub ids: Vec<u32>,
    pub areas: BTreeMap<u32, Vec<AreaView>>,
}

/// Takes a snapshot of `w`.
pub fn snapshot(w: &World) -> Snapshot {
    Snapshot {
        ids: w.ids(),
        areas: w.areas(),
    }
}

/// The value of field `name` of the struct.
fn field(p: &Prepared, name: &str) -> u64 {
    p.command
        .fields
        .iter()
        .find(|f| f.c_path == name)
        .map_or(0, |f| p.get(f.offset, f.size.min(8)))
}

/// Areas added and removed in each IOAS present before and after.
struct Diff {
    added: BTreeMap<u32, Vec<AreaView>>,
    removed: BTreeMap<u32, Vec<AreaView>>,
}

impl Diff {
    fn of(before: &Snapshot, after: &Snapshot) -> Self {
        let mut d = Diff {
            added: BTreeMap::new(),
            removed: BTreeMap::new(),
        };
        for (id, now) in &after.areas {
            let was = before.areas.get(id).map_or(&[][..], Vec::as_slice);
            let (was_set, now_set): (BTreeSet<_>, BTreeSet<_>) =
                (was.iter().collect(), now.iter().collect());
            let add: Vec<_> = now_set.difference(&was_set).map(|a| **a).collect();
            let rem: Vec<_> = was_set.difference(&now_set).map(|a| **a).collect();
            if !add.is_empty() {
                d.added.insert(*id, add);
            }
            if !rem.is_empty() {
                d.removed.insert(*id, rem);
            }
        }
        d
    }

    fn none(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// The one IOAS that changed, if only one did.
    fn only(&self) -> Option<u32> {
        let ids: BTreeSet<_> = self.added.keys().chain(self.removed.keys()).collect();
        (ids.len() == 1).then(|| **ids.first().unwrap())
    }
}

/// The user address behind an IOVA of a map that starts at `start` (`None`: not user memory).
type Backing = Box<dyn Fn(u64, u64) -> Option<u64>>;

/// What a successful map adds: `len` bytes at `iova` (`None`: wherever the areas start),
/// each IOVA backed by `backing(iova)`.
fn check_map_tiles(
    d: &Diff,
    ioas: Option<u32>,
    iova: Option<u64>,
    len: u64,
    backing: impl Fn(u64, u64) -> Option<u64>,
) -> Result<(), String> {
    let target = d.only().ok_or("a map changed no IOAS, or several")?;
    if ioas.is_some_and(|i| i != target) || d.removed.contains_key(&target) {
        return Err(format!("a map changed IOAS {target} beyond adding areas"));
    }
    let added = &d.added[&target];
    let start = iova.unwrap_or(added[0].0);
    let mut at = start;
    for &(a_iova, a_len, a_addr) in added {
        if a_iova != at {
            return Err(format!("area at {a_iova:#x}, expected one at {at:#x}"));
        }
        if backing(start, a_iova).is_some_and(|b| b != a_addr) {
            return Err(format!("area at {a_iova:#x} is backed by {a_addr:#x}"));
        }
        at = at.wrapping_add(a_len);
    }
    if at.wrapping_sub(start) != len {
        return Err(format!(
            "areas of {:#x} bytes for a map of {len:#x}",
            at - start
        ));
    }
    Ok(())
}

/// What an unmap of `iova..=last` of `ioas` (`None`: any one) may remove.
fn check_unmap(
    d: &Diff,
    after: &Snapshot,
    ioas: Option<u32>,
    range: Option<(u64, u64)>,
    ok: Option<u64>,
) -> Result<(), String> {
    if !d.added.is_empty() {
        return Err("an unmap added areas".into());
    }
    let target = match (d.only(), ioas) {
        (None, _) if d.none() => ioas,
        (Some(t), Some(i)) if t != i => return Err(format!("unmap of {i} changed {t}")),
        (Some(t), _) => Some(t),
        (None, _) => return Err("an unmap changed several IOASes".into()),
    };
    let removed = target
        .and_then(|t| d.removed.get(&t))
        .map_or(&[][..], Vec::as_slice);
    if let Some((first, last)) = range {
        if let Some(a) = removed
            .iter()
            .find(|a| a.0 < first || a.0 + (a.1 - 1) > last)
        {
            return Err(format!("unmap of {first:#x}..={last:#x} removed {a:x?}"));
        }
    }
    if let Some(reported) = ok {
        let sum: u64 = removed.iter().map(|a| a.1).sum();
        if reported != sum {
            return Err(format!(
                "unmap reported {reported:#x} bytes, removed {sum:#x}"
            ));
        }
        let left = target
            .and_then(|t| after.areas.get(&t))
            .map_or(&[][..], Vec::as_slice);
        let hit = |a: &&AreaView| range.is_none_or(|(f, l)| a.0 <= l && a.0 + (a.1 - 1) >= f);
        if let Some(a) = left.iter().find(hit) {
            return Err(format!("a successful unmap left {a:x?}"));
        }
    }
    Ok(())
}

/// The invariants of one call that returned `r`; `p` is the struct as written, `back` as
/// read back afterwards.
pub fn after_call(
    w: &World,
    before: &Snapshot,
    after: &Snapshot,
    p: &Prepared,
    back: &Prepared,
    r: Result<i64, Errno>,
) -> Result<(), String> {
    let name = p.command.name;
    let replaced = r == Err(Errno::EFAULT) && replaces_then_responds(p);
    if r.is_err() && after.ids != before.ids && !replaced {
        return Err(format!(
            "failed with objects {:?} -> {:?}",
            before.ids, after.ids
        ));
    }
    if let Some((id, _)) = after
        .areas
        .iter()
        .find(|(id, a)| !before.areas.contains_key(id) && !a.is_empty())
    {
        return Err(format!("new IOAS {id} has areas"));
    }
    let d = Diff::of(before, after);
    let efault = r == Err(Errno::EFAULT);
    match name {
        "IOMMU_IOAS_MAP" | "IOMMU_IOAS_COPY" | "IOMMU_IOAS_MAP_FILE" | "VFIO_IOMMU_MAP_DMA" => {
            let (ioas, iova, len, backing): (_, _, _, Backing) = match name {
                "IOMMU_IOAS_MAP" => {
                    let uva = field(p, "user_va");
                    (
                        Some(field(p, "ioas_id") as u32),
                        fixed(p, back, "iova", r.is_ok()),
                        field(p, "length"),
                        Box::new(move |start, iova| Some(uva + (iova - start))),
                    )
                }
                "IOMMU_IOAS_COPY" => {
                    let src = before
                        .areas
                        .get(&(field(p, "src_ioas_id") as u32))
                        .cloned()
                        .unwrap_or_default();
                    let src_iova = field(p, "src_iova");
                    (
                        Some(field(p, "dst_ioas_id") as u32),
                        fixed(p, back, "dst_iova", r.is_ok()),
                        field(p, "length"),
                        Box::new(move |start, iova| {
                            let s = src_iova + (iova - start);
                            let a = src.iter().find(|a| a.0 <= s && s - a.0 < a.1);
                            Some(a.map_or(u64::MAX, |a| a.2 + (s - a.0)))
                        }),
                    )
                }
                // A dma-buf's pages are not user memory: only the IOVAs are checked.
                "IOMMU_IOAS_MAP_FILE" => (
                    Some(field(p, "ioas_id") as u32),
                    fixed(p, back, "iova", r.is_ok()),
                    field(p, "length"),
                    Box::new(|_, _| None),
                ),
                _ => {
                    let vaddr = field(p, "vaddr");
                    (
                        None,
                        Some(field(p, "iova")),
                        field(p, "size"),
                        Box::new(move |start, iova| Some(vaddr + (iova - start))),
                    )
                }
            };
            let map = || check_map_tiles(&d, ioas, iova, len, &backing);
            match r {
                Ok(_) => map()?,
                Err(_) if d.none() => {}
                Err(_) if efault && name != "VFIO_IOMMU_MAP_DMA" => map()?,
                Err(e) => return Err(format!("failed with {e:?} but changed areas")),
            }
        }
        "IOMMU_IOAS_UNMAP" => {
            let (iova, len) = (field(p, "iova"), field(p, "length"));
            let all = iova == 0 && len == u64::MAX;
            let ioas = Some(field(p, "ioas_id") as u32);
            unmapped(&d, after, ioas, iova, len, all, field(back, "length"), r)?;
        }
        "VFIO_IOMMU_UNMAP_DMA" => {
            let all = field(p, "flags") as u32 & VFIO_DMA_UNMAP_FLAG_ALL != 0;
            let (iova, len) = (field(p, "iova"), field(p, "size"));
            let reported = field(back, "size");
            // With large pages disabled (type1 v1) the range's ends are cut first, the end
            // before the start, and the cuts made stay whatever happens next: a start the
            // IOVA alignment refuses (`EINVAL`) leaves the end's cut (`iommufd_vfio_unmap_dma`,
            // `iopt_cut_iova`, `iopt_area_split`).
            let check = |d: &Diff| unmapped(d, after, None, iova, len, all, reported, r);
            let end = iova.wrapping_add(len);
            let cut_in = |id, points: &[u64]| Diff::of(&cut_at(before, id, points), after);
            let first = check(&d);
            let cuts_explain = |id: &u32| {
                check(&cut_in(*id, &[end, iova])).is_ok()
                    || (r == Err(Errno::EINVAL) && cut_in(*id, &[end]).none())
            };
            if first.is_err() && !before.areas.keys().any(cuts_explain) {
                first?;
            }
        }
        "IOMMU_IOAS_CHANGE_PROCESS" => {
            let spans = |s: &Snapshot| -> Vec<_> {
                s.areas
                    .iter()
                    .flat_map(|(id, a)| a.iter().map(move |a| (*id, a.0, a.1)))
                    .collect()
            };
            let gone: BTreeSet<_> = before
                .ids
                .iter()
                .filter(|i| !after.ids.contains(i))
                .collect();
            let kept: Vec<_> = spans(before)
                .into_iter()
                .filter(|s| !gone.contains(&s.0))
                .collect();
            if kept != spans(after) {
                return Err("IOMMU_IOAS_CHANGE_PROCESS moved areas".into());
            }
        }
        _ if !d.none() => return Err(format!("{name} changed areas: {:x?}", d.removed)),
        _ => {}
    }
    domains_agree(w, after)?;
    pins_within_areas(w, after)
}

/// The unmap checks for a call that returned `r`, having asked for `len` bytes at `iova` (or
/// everything) and reported `reported` bytes.
#[allow(clippy::too_many_arguments)]
fn unmapped(
    d: &Diff,
    after: &Snapshot,
    ioas: Option<u32>,
    iova: u64,
    len: u64,
    all: bool,
    reported: u64,
    r: Result<i64, Errno>,
) -> Result<(), String> {
    let range = (!all && len > 0).then(|| (iova, iova.saturating_add(len - 1)));
    match r {
        Ok(_) => check_unmap(d, after, ioas, range, Some(reported)),
        Err(Errno::ENOENT | Errno::EBUSY | Errno::EFAULT) => {
            check_unmap(d, after, ioas, range, None)
        }
        Err(e) if !d.none() => Err(format!("failed with {e:?}, changed areas")),
        Err(_) => Ok(()),
    }
}

/// `s` with every area of IOAS `id` split so that one of `points` starts a part, as
/// `iopt_area_split` cuts after `point - 1`: not where that is the area's first or last byte.
fn cut_at(s: &Snapshot, id: u32, points: &[u64]) -> Snapshot {
    let mut out = s.clone();
    if let Some(areas) = out.areas.get_mut(&id) {
        for &p in points {
            let Some(i) = areas
                .iter()
                .position(|a| a.0.wrapping_add(1) < p && p - a.0 < a.1)
            else {
                continue;
            };
            let (iova, len, addr) = areas[i];
            let head = p - iova;
            areas[i] = (iova, head, addr);
            areas.insert(i + 1, (p, len - head, addr + head));
        }
    }
    out
}

/// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` and `IOMMU_TEST_OP_PASID_REPLACE` replace, then write
/// the result back: the replacement (and the automatic domain it made or freed) stays if that
/// faults.
///
/// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` attaches, then writes `pt_id` back: if that faults, the
/// device is detached (`vfio_df_ioctl_attach_pt`'s `out_detach`), which frees the
/// automatic domain it was attached to, whatever it was attached to before.
fn replaces_then_responds(p: &Prepared) -> bool {
    match p.command.target {
        Target::Iommufd => {
            p.command.cmd == IOMMU_TEST_CMD
                && matches!(
                    p.get(4, 4) as u32,
                    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE | IOMMU_TEST_OP_PASID_REPLACE
                )
        }
        Target::Device => p.command.cmd == VFIO_DEVICE_ATTACH_IOMMUFD_PT,
        Target::DeviceRegion { .. } => false,
    }
}

/// The IOVA a map used: the one asked for with `IOMMU_IOAS_MAP_FIXED_IOVA`, else the one
/// written back (unknown if writing it back failed).
fn fixed(p: &Prepared, back: &Prepared, name: &str, ok: bool) -> Option<u64> {
    if field(p, "flags") as u32 & IOMMU_IOAS_MAP_FIXED_IOVA != 0 {
        Some(field(p, name))
    } else {
        ok.then(|| field(back, name))
    }
}

/// Every paging HWPT maps every area of its IOAS to the pages behind it.
fn domains_agree(w: &World, s: &Snapshot) -> Result<(), String> {
    for &id in &s.ids {
        let Ok(hwpt) = w.ctx.get::<HwptPaging>(id) else {
            continue;
        };
        let areas = s.areas.get(&hwpt.ioas.id()).map_or(&[][..], Vec::as_slice);
        let mock = w.ctx.iommu().name() == "mock";
        // A dma-buf's areas are not user memory, and leave the domains when it is revoked.
        let user = |a: &&AreaView| pinnable_pages().any(|p| p == a.2 & !(PAGE - 1));
        for &(iova, len, addr) in areas.iter().filter(user) {
            if mock {
                let mut cmd = IommuTestCmd::new(
                    id,
                    TestCheckMap {
                        iova,
                        length: len,
                        uptr: addr,
                    },
                );
                let p = Prepared {
                    command: crate::spec::command("IOMMU_TEST_CMD").expect("in the table"),
                    arg: 0,
                    bytes: cmd.as_mut_bytes().to_vec(),
                };
                debug_assert_eq!(p.command.cmd, IOMMU_TEST_CMD);
                let call = w.write_struct(&p.bytes);
                if let Err(e) = w.dispatch(&Prepared { arg: call, ..p }) {
                    return Err(format!("MD_CHECK_MAP of HWPT {id} at {iova:#x}: {e:?}"));
                }
                continue;
            }
            for i in 0..len / PAGE {
                let got = hwpt.domain.iova_to_phys(iova + i * PAGE);
                if got != Some(addr + i * PAGE) {
                    return Err(format!("HWPT {id} maps {:#x} to {got:x?}", iova + i * PAGE));
                }
            }
        }
    }
    Ok(())
}

/// No page is pinned more often than areas cover it, and `locked_vm` stays within the pins.
fn pins_within_areas(w: &World, s: &Snapshot) -> Result<(), String> {
    let areas: Vec<_> = s.areas.values().flatten().collect();
    let mut pins = 0u64;
    for page in pinnable_pages() {
        let refs = w.registry.refs(page);
        let cover = areas
            .iter()
            .filter(|a| page + PAGE > a.2 && page < a.2 + a.1)
            .count();
        if refs as usize > cover {
            return Err(format!("page {page:#x} pinned {refs} times, {cover} areas"));
        }
        pins += u64::from(refs);
    }
    let charged = w.user_locked.locked() + w.mm_locked.locked();
    if charged > pins {
        return Err(format!("{charged} pages charged, {pins} pinned"));
    }
    Ok(())
}

/// Closes `w`; nothing may be left.
pub fn teardown(w: World) -> Result<(), String> {
    let (ctx, registry, user, mm) = w.close();
    if ctx.upgrade().is_some() {
        return Err("the context outlived its fds".into());
    }
    if let Some(page) = pinnable_pages().find(|&p| registry.refs(p) != 0) {
        return Err(format!("page {page:#x} still pinned after close"));
    }
    if user.locked() + mm.locked() != 0 {
        return Err(format!(
            "locked_vm still charged after close: user {} mm {}",
            user.locked(),
            mm.locked()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(areas: &[(u32, AreaView)]) -> Snapshot {
        let mut s = Snapshot {
            ids: areas.iter().map(|a| a.0).collect(),
            areas: BTreeMap::new(),
        };
        for &(id, a) in areas {
            s.areas.entry(id).or_default().push(a);
        }
        s
    }

    #[test]
    fn an_unmap_may_remove_only_whole_areas_inside_its_range() {
        let before = snap(&[(1, (0x1000, 0x2000, 0xa000)), (1, (0x4000, 0x1000, 0xc000))]);
        let after = snap(&[(1, (0x4000, 0x1000, 0xc000))]);
        let d = Diff::of(&before, &after);
        assert!(check_unmap(&d, &after, Some(1), Some((0x1000, 0x2fff)), Some(0x2000)).is_ok());
        // Wrong count reported, an area outside the range, another IOAS.
        assert!(check_unmap(&d, &after, Some(1), Some((0x1000, 0x2fff)), Some(0x1000)).is_err());
        assert!(check_unmap(&d, &after, Some(1), Some((0x2000, 0x2fff)), None).is_err());
        assert!(check_unmap(&d, &after, Some(2), None, None).is_err());
        // A successful unmap must not leave an area in its range.
        let same = Diff::of(&before, &before);
        assert!(check_unmap(&same, &before, Some(1), Some((0x4000, 0x4fff)), Some(0)).is_err());
    }

    #[test]
    fn a_cut_splits_only_the_areas_of_its_ioas_strictly_inside() {
        let s = snap(&[(1, (0x1000, 0x3000, 0xa000)), (2, (0x1000, 0x3000, 0xa000))]);
        let cut = cut_at(&s, 1, &[0x1000, 0x3000]);
        assert_eq!(
            cut.areas[&1],
            [(0x1000, 0x2000, 0xa000), (0x3000, 0x1000, 0xc000)]
        );
        assert_eq!(cut.areas[&2], s.areas[&2]);
    }

    #[test]
    fn a_map_must_tile_its_range_with_the_memory_asked_for() {
        let before = snap(&[]);
        let mut after = snap(&[(3, (0x8000, 0x2000, 0x20_0000))]);
        let d = Diff::of(&before, &after);
        let uva = |start: u64, iova: u64| Some(0x20_0000 + (iova - start));
        assert!(check_map_tiles(&d, Some(3), Some(0x8000), 0x2000, uva).is_ok());
        assert!(check_map_tiles(&d, Some(3), Some(0x8000), 0x3000, uva).is_err());
        assert!(check_map_tiles(&d, Some(4), None, 0x2000, uva).is_err());
        after.areas.get_mut(&3).unwrap()[0].2 = 0x30_0000;
        let d = Diff::of(&before, &after);
        assert!(check_map_tiles(&d, Some(3), Some(0x8000), 0x2000, uva).is_err());
    }
}
