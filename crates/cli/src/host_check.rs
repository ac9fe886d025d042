//! What the host kernel must offer before a program runs under uiommu.

use uiommu_abi::ProcessVm;
use uiommu_uapi::{Errno, UserMemory};

/// `process_vm_readv`/`process_vm_writev` (`CONFIG_CROSS_MEMORY_ATTACH`, on in every
/// distribution's kernel): the preload library reads and writes the program's memory with them
/// where a fault must not kill it (decoding a trapped BAR access, a device's DMA started by
/// one, the calls of a forked child). Without them those would end the program with a bare
/// `SIGSEGV`; this says why before it starts.
pub fn cross_memory_attach() -> Result<(), String> {
    let word = [0x5au8; 8];
    let mut out = [0u8; 8];
    match ProcessVm::current().read(word.as_ptr() as u64, &mut out) {
        Ok(()) if out == word => Ok(()),
        Err(Errno::ENOSYS) => Err("this kernel has no process_vm_readv \
             (CONFIG_CROSS_MEMORY_ATTACH), which uiommu needs"
            .into()),
        Ok(()) => Err("process_vm_readv of this process read the wrong bytes".into()),
        Err(e) => Err(format!("process_vm_readv of this process failed: {e:?}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_kernel_has_cross_memory_attach() {
        // Every kernel the tests run on has it (the real-kernel leg's configuration too).
        assert_eq!(super::cross_memory_attach(), Ok(()));
    }
}
