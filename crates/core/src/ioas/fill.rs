//! The paging domains an IOAS keeps filled (`io_pagetable.c`: `iopt_table_add_domain`,
//! `iopt_table_remove_domain`, `iopt_fill_domain`, `iopt_unfill_domain`; `pages.c`:
//! `iopt_area_fill_domain`, `batch_iommu_map_small`).

use super::area::Area;
use super::pages::PAGE_SIZE;
use super::reserved::Owner;
use super::{Inner, IoPagetable};
use std::sync::Arc;
use uiommu_uapi::{Errno, errno::Result};

use crate::iommu::IoptDomain;

/// Identity of a domain: the address of its object.
pub(crate) fn domain_key(d: &Arc<dyn IoptDomain>) -> usize {
    Arc::as_ptr(d) as *const () as usize
}

/// Maps one area into `domain` in runs of physically contiguous memory (`batch_to_domain`),
/// or page by page with large pages disabled (`batch_iommu_map_small`).
/// An area over a revoked dma-buf maps nothing (`iopt_area_fill_domain`).
pub(crate) fn map_area(domain: &dyn IoptDomain, area: &Area, small: bool) -> Result<()> {
    if area.revoked {
        return Ok(());
    }
    let oa = area.pages.host_addr(area.start_byte, area.len())?;
    // No IOPTE may span what the kernel would see as separate physical pages: map each
    // contiguous block (or each `PAGE_SIZE` page with large pages disabled) on its own.
    let block = if small {
        PAGE_SIZE
    } else {
        area.pages.contiguity(area.start_byte)
    };
    let mut done = 0u64;
    while done < area.len() {
        let host = oa.wrapping_add(done);
        let chunk = (block - host % block).min(area.len() - done);
        // The IOPTE tables the map may allocate.
        let mapped = crate::fail_nth::alloc()
            .and_then(|()| domain.map(area.iova + done, host, chunk, area.prot));
        if let Err(e) = mapped {
            if done != 0 {
                domain.unmap(area.iova, done);
            }
            return Err(e);
        }
        done += chunk;
    }
    Ok(())
}

/// Unmaps an area from `domain`; one over a revoked dma-buf is unmapped already.
fn unmap_area(domain: &dyn IoptDomain, area: &Area) {
    if !area.revoked {
        domain.unmap(area.iova, area.len());
    }
}

/// Pins an area's pages for domains and maps it into every domain; on failure nothing stays
/// (`iopt_area_fill_domains`).
pub(crate) fn fill_area(inner: &Inner, area: &Area) -> Result<()> {
    if inner.domains.is_empty() {
        return Ok(());
    }
    area.pages.hold(area.first_index(), area.last_index())?;
    for (i, d) in inner.domains.iter().enumerate() {
        if let Err(e) = map_area(d.as_ref(), area, inner.disable_large_pages) {
            for d in &inner.domains[..i] {
                unmap_area(d.as_ref(), area);
            }
            area.pages.release(area.first_index(), area.last_index());
            return Err(e);
        }
    }
    Ok(())
}

/// Unmaps an area from every domain and drops the domains' hold on its pages
/// (`iopt_area_unfill_domains`).
pub(crate) fn unfill_area(inner: &Inner, area: &Area) {
    if inner.domains.is_empty() {
        return;
    }
    for d in &inner.domains {
        unmap_area(d.as_ref(), area);
    }
    area.pages.release(area.first_index(), area.last_index());
}

impl IoPagetable {
    /// `iopt_table_add_domain`: raises the IOVA alignment to the domain's smallest page size
    /// (`EINVAL` above `PAGE_SIZE`, `EADDRINUSE` if an area does not conform), reserves what
    /// lies outside its aperture (`EADDRINUSE` over an area or allowed range), then fills it
    /// with every area. On failure the IOAS and the domain are as before.
    pub fn add_domain(&self, domain: Arc<dyn IoptDomain>) -> Result<()> {
        let mut g = self.write();
        let inner = &mut *g;
        let key = domain_key(&domain);
        if inner.domains.iter().any(|d| domain_key(d) == key) {
            return Err(Errno::EEXIST);
        }
        let bitmap = domain.pgsize_bitmap();
        if bitmap == 0 {
            return Err(Errno::EINVAL);
        }
        let smallest = 1u64 << bitmap.trailing_zeros();
        let new_align = smallest.max(inner.iova_alignment);
        if new_align > PAGE_SIZE {
            return Err(Errno::EINVAL);
        }
        if new_align != inner.iova_alignment {
            inner.check_alignment(new_align)?;
        }
        let owner = Owner::Domain(key);
        let (ap_start, ap_end) = domain.aperture();
        let mut reserve = || -> Result<()> {
            if ap_start != 0 {
                inner.reserve_checked(0, ap_start - 1, owner)?;
            }
            if ap_end != u64::MAX {
                inner.reserve_checked(ap_end + 1, u64::MAX, owner)?;
            }
            Ok(())
        };
        if let Err(e) = reserve() {
            inner.reserved.remove_owner(owner);
            return Err(e);
        }
        if let Err(e) = inner.fill_domain(domain.as_ref()) {
            inner.reserved.remove_owner(owner);
            return Err(e);
        }
        inner.iova_alignment = new_align;
        inner.domains.push(domain);
        Ok(())
    }

    /// `iopt_table_remove_domain`: unmaps every area from the domain, unpins when it was the
    /// last one, drops its aperture reservations and recomputes the alignment. Unknown domains
    /// are ignored.
    pub fn remove_domain(&self, domain: &Arc<dyn IoptDomain>) {
        let mut g = self.write();
        let inner = &mut *g;
        let key = domain_key(domain);
        let Some(pos) = inner.domains.iter().position(|d| domain_key(d) == key) else {
            return;
        };
        let d = inner.domains.swap_remove(pos);
        let last = inner.domains.is_empty();
        for area in inner.areas.iter() {
            unmap_area(d.as_ref(), area);
            if last {
                area.pages.release(area.first_index(), area.last_index());
            }
        }
        inner.reserved.remove_owner(Owner::Domain(key));
        // Alignment only shrinks here, so no area can fail the check.
        let _ = inner.recalc_alignment();
    }

    /// Domains attached now.
    pub fn domain_count(&self) -> usize {
        self.read().domains.len()
    }
}

impl Inner {
    /// `iopt_fill_domain`: the first domain also pins every area's pages.
    fn fill_domain(&self, domain: &dyn IoptDomain) -> Result<()> {
        let first = self.domains.is_empty();
        let areas: Vec<&Area> = self.areas.iter().collect();
        for (i, area) in areas.iter().enumerate() {
            let r = if first {
                area.pages.hold(area.first_index(), area.last_index())
            } else {
                Ok(())
            };
            let r = r.and_then(|()| {
                map_area(domain, area, self.disable_large_pages).inspect_err(|_| {
                    if first {
                        area.pages.release(area.first_index(), area.last_index());
                    }
                })
            });
            if let Err(e) = r {
                for done in &areas[..i] {
                    unmap_area(domain, done);
                    if first {
                        done.pages.release(done.first_index(), done.last_index());
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }
}
