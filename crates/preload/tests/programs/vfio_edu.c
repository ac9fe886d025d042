/* A user-space driver for the emulated edu device through /dev/vfio/devices/vfioN and iommufd,
 * as a VFIO program drives a real one: finds edu through sysfs, binds its device file to an
 * iommufd, attaches it to an IOAS, reads and writes config space and BAR 0 with pread/pwrite,
 * runs DMA both ways through a mapped buffer with an MSI eventfd counting completions, then
 * checks that DMA lands nothing once the buffer is unmapped (the transfer still completes and
 * interrupts, as QEMU's edu ignores the refusal); a forked child is refused the file
 * (EBADF). BAR 0 mapped with mmap is MMIO: loads and stores through volatile pointers reach
 * edu's registers (identification, liveness, factorial, DMA programmed with 64-bit stores);
 * a DMA so started to an unmapped IOVA is refused; with Memory Space off an access is SIGBUS; the program's own SIGSEGV handler still catches a
 * NULL dereference in between; mremap moves and shrinks it; all of it with a small alternate signal stack; mmap's errors are vfio-pci's. Two rounds in one process: closing
 * everything releases everything. Prints "ok" or why not, and exits non-zero.
 *
 * The uAPI definitions are Linux 7.3's (include/uapi/linux/vfio.h, iommufd.h), restated so
 * that the program builds with any libc's headers. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edu.h"

#define TYPE ';'
#define VFIO_DEVICE_GET_INFO _IO(TYPE, 107)
#define VFIO_DEVICE_GET_REGION_INFO _IO(TYPE, 108)
#define VFIO_DEVICE_SET_IRQS _IO(TYPE, 110)
#define VFIO_DEVICE_BIND_IOMMUFD _IO(TYPE, 118)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(TYPE, 119)
#define IOMMU_DESTROY _IO(TYPE, 0x80)
#define IOMMU_IOAS_ALLOC _IO(TYPE, 0x81)
#define IOMMU_IOAS_MAP _IO(TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(TYPE, 0x86)

#define MSI_INDEX 1
#define IRQ_DATA_EVENTFD (1 << 2)
#define IRQ_ACTION_TRIGGER (1 << 5)
#define MAP_FIXED_IOVA 1
#define MAP_WRITEABLE 2
#define MAP_READABLE 4

struct bind { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; };
struct attach { uint32_t argsz, flags, pt_id; };
struct device_info { uint32_t argsz, flags, num_regions, num_irqs, cap_offset, pad; };
struct region_info { uint32_t argsz, flags, index, cap_offset; uint64_t size, offset; };
struct irq_set { uint32_t argsz, flags, index, start, count; int32_t fd; };
struct ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct ioas_map { uint32_t size, flags, ioas_id, reserved; uint64_t user_va, length, iova; };
struct ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
struct destroy { uint32_t size, id; };

#define rd32(fd, off) ((uint32_t)rd(fd, off, 4))
#define wr32(fd, off, v) wr(fd, off, v, 4)

static void wr64(int fd, uint64_t off, uint64_t v)
{
	/* Through the vectored call, as a driver batching registers might. */
	struct iovec iov = { &v, 8 };
	CHECK(pwritev(fd, &iov, 1, off) == 8, "pwritev %#llx", (unsigned long long)off);
}

static uint64_t rd64(int fd, uint64_t off)
{
	uint64_t v = 0;
	struct iovec iov = { &v, 8 };
	CHECK(preadv2(fd, &iov, 1, off, 0) == 8, "preadv2 %#llx", (unsigned long long)off);
	return v;
}

/* One transfer of 256 bytes between RAM at `ram` (an IOVA) and edu's buffer. */
static void dma(int dev, uint64_t ram, int to_ram)
{
	wr64(dev, REGION(BAR0) + (to_ram ? EDU_DMA_SRC : EDU_DMA_DST), EDU_BUFFER);
	wr64(dev, REGION(BAR0) + (to_ram ? EDU_DMA_DST : EDU_DMA_SRC), ram);
	wr64(dev, REGION(BAR0) + EDU_DMA_COUNT, 256);
	wr64(dev, REGION(BAR0) + EDU_DMA_CMD, EDU_CMD_RUN | EDU_CMD_IRQ | (to_ram ? EDU_CMD_TO_RAM : 0));
}

static uint64_t interrupts(int efd)
{
	uint64_t n = 0;
	if (read(efd, &n, 8) != 8 && errno != EAGAIN)
		FAIL("read eventfd");
	return n;
}

static sigjmp_buf on_signal;
static volatile sig_atomic_t caught;

static void catch_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)si;
	(void)ctx;
	caught = sig;
	siglongjmp(on_signal, 1);
}

/* Runs `access` on `p`; the signal it raised (0 for none). */
static int trap(void (*access)(volatile uint32_t *), volatile uint32_t *p)
{
	caught = 0;
	if (!sigsetjmp(on_signal, 1))
		access(p);
	return caught;
}

static void load(volatile uint32_t *p)
{
	(void)*p;
}

static void set_memory_space(int dev, int on)
{
	uint16_t command;
	CHECK(pread(dev, &command, 2, REGION(CONFIG) + 4) == 2, "read command");
	command = on ? (command | 0x2) : (command & ~0x2);
	CHECK(pwrite(dev, &command, 2, REGION(CONFIG) + 4) == 2, "write command");
}

/* BAR 0 through mmap, with RAM at IOVA `ram` (`buf` in this process) for edu's DMA. */
static void mapped_bar(int dev, unsigned char *buf, uint64_t ram)
{
	const size_t mib = 1 << 20;
	CHECK(mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_PRIVATE, dev, REGION(BAR0)) == MAP_FAILED &&
	      errno == EINVAL, "private mapping");
	CHECK(mmap(NULL, mib + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dev, REGION(BAR0)) == MAP_FAILED &&
	      errno == EINVAL, "past the BAR");
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, dev, REGION(BAR0) + mib) == MAP_FAILED &&
	      errno == EINVAL, "offset past the BAR");
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev, REGION(CONFIG)) == MAP_FAILED &&
	      errno == EINVAL, "config region");
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev, REGION(1ull)) == MAP_FAILED &&
	      errno == EINVAL, "unimplemented BAR");

	/* A small alternate signal stack, as Rust gives its threads: the accesses still work. */
	static char alt[16384];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) }, no_alt = { .ss_flags = SS_DISABLE };
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");

	volatile unsigned char *bar = mmap(NULL, mib, PROT_READ | PROT_WRITE, MAP_SHARED, dev, REGION(BAR0));
	CHECK(bar != MAP_FAILED, "mmap BAR0");
	volatile uint32_t *r32 = (volatile uint32_t *)bar;
	volatile uint64_t *r64 = (volatile uint64_t *)bar;
	CHECK(r32[EDU_ID / 4] == 0x010000ed, "mapped id %#x", r32[EDU_ID / 4]);
	r32[EDU_LIVENESS / 4] = 0xcafe0001;
	CHECK(r32[EDU_LIVENESS / 4] == ~0xcafe0001u, "mapped liveness");
	r32[EDU_FACTORIAL / 4] = 5;
	while (r32[EDU_STATUS / 4] & 1)
		;
	CHECK(r32[EDU_FACTORIAL / 4] == 120, "factorial %u", r32[EDU_FACTORIAL / 4]);
	/* The same register seen by pread. */
	CHECK(rd32(dev, REGION(BAR0) + EDU_FACTORIAL) == 120, "factorial by pread");

	/* The program's SIGSEGV handler catches its own fault; the mapping keeps working. */
	struct sigaction sa = { .sa_sigaction = catch_signal, .sa_flags = SA_SIGINFO }, old;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGSEGV, &sa, &old) == 0 && sigaction(SIGBUS, &sa, NULL) == 0, "sigaction");
	CHECK(trap(load, NULL) == SIGSEGV, "NULL dereference not caught");
	CHECK(r32[EDU_ID / 4] == 0x010000ed, "mapped id after a caught fault");
	struct sigaction now;
	CHECK(sigaction(SIGSEGV, NULL, &now) == 0 && now.sa_sigaction == catch_signal, "handler reported");

	/* Memory Space off: the access is SIGBUS, as vfio-pci's fault handler answers. */
	set_memory_space(dev, 0);
	CHECK(trap(load, r32) == SIGBUS, "access with Memory Space off");
	set_memory_space(dev, 1);
	CHECK(sigaction(SIGSEGV, &old, NULL) == 0, "restore SIGSEGV");
	signal(SIGBUS, SIG_DFL);
	/* With the default action back, a NULL dereference kills with SIGSEGV. */
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		load(NULL);
		_exit(0);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "child %#x", status);

	/* edu buffer -> RAM at ram + 768, programmed with 64-bit stores. */
	memset(buf + 768, 0, 256);
	r64[EDU_DMA_SRC / 8] = EDU_BUFFER;
	r64[EDU_DMA_DST / 8] = ram + 768;
	r64[EDU_DMA_COUNT / 8] = 256;
	r64[EDU_DMA_CMD / 8] = EDU_CMD_RUN | EDU_CMD_TO_RAM;
	while (r64[EDU_DMA_CMD / 8] & EDU_CMD_RUN)
		;
	CHECK(!memcmp(buf, buf + 768, 256), "mapped DMA bytes differ");
	/* A transfer to an IOVA nothing maps, started by a store: the IOMMU refuses it while the
	 * store is served, inside the SIGSEGV handler; edu completes it anyway. */
	r64[EDU_DMA_SRC / 8] = EDU_BUFFER;
	r64[EDU_DMA_DST / 8] = ram + mib;
	r64[EDU_DMA_COUNT / 8] = 256;
	r64[EDU_DMA_CMD / 8] = EDU_CMD_RUN | EDU_CMD_TO_RAM;
	while (r64[EDU_DMA_CMD / 8] & EDU_CMD_RUN)
		;
	CHECK(sigaltstack(&no_alt, NULL) == 0, "sigaltstack off");
	/* mremap: growing is EFAULT, DONTUNMAP EINVAL; shrinking and moving keep the MMIO. */
	CHECK(mremap((void *)bar, mib, 2 * mib, MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT, "grow");
	void *spot = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(spot != MAP_FAILED, "mmap spot");
	CHECK(mremap((void *)bar, 8192, 8192, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, spot) == MAP_FAILED &&
	      errno == EINVAL, "DONTUNMAP");
	CHECK(mremap((void *)bar, mib, 8192, 0) == bar, "shrink");
	CHECK(mprotect((void *)bar, 8192, PROT_READ) == 0, "mprotect");
	CHECK(mremap((void *)bar, 8192, 8192, MREMAP_MAYMOVE | MREMAP_FIXED, spot) == spot, "move");
	r32 = spot;
	CHECK(r32[EDU_ID / 4] == 0x010000ed && r32[EDU_FACTORIAL / 4] == 120, "moved mapping");
	CHECK(munmap(spot, 8192) == 0, "munmap BAR0");
}

static void find_cdev(char *cdev, size_t len)
{
	char path[PATH_MAX], dev[300] = "";
	DIR *d = opendir("/sys/bus/pci/devices");
	CHECK(d, "opendir");
	for (struct dirent *e; (e = readdir(d));) {
		unsigned vendor = 0, device = 0;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%x", &vendor) != 1)
				vendor = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%x", &device) != 1)
				device = 0;
			fclose(f);
		}
		if (vendor == 0x1234 && device == 0x11e8)
			snprintf(dev, sizeof(dev), "%s", e->d_name);
	}
	closedir(d);
	CHECK(dev[0], "no edu");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", dev);
	d = opendir(path);
	CHECK(d, "opendir %s", path);
	for (struct dirent *e; (e = readdir(d));)
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(cdev, len, "/dev/vfio/devices/%s", e->d_name);
	closedir(d);
}

static void round_trip(const char *cdev)
{
	int dev = open(cdev, O_RDWR | O_CLOEXEC);
	CHECK(dev >= 0, "open %s", cdev);
	struct device_info info = { .argsz = sizeof(info) };
	CHECK(ioctl(dev, VFIO_DEVICE_GET_INFO, &info) == -1 && errno == EINVAL, "GET_INFO unbound");
	uint32_t id;
	CHECK(pread(dev, &id, 4, REGION(CONFIG)) == -1 && errno == EINVAL, "pread unbound");
	CHECK(lseek(dev, 0, SEEK_SET) == -1 && errno == ESPIPE, "lseek");

	int iommufd = open("/dev/iommu", O_RDWR);
	CHECK(iommufd >= 0, "open /dev/iommu");
	struct bind bind = { .argsz = sizeof(bind), .iommufd = -1 };
	CHECK(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == -1 && errno == EINVAL, "bind -1");
	bind.iommufd = dev;
	CHECK(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == -1 && errno == EBADFD, "bind to itself");
	bind.iommufd = iommufd;
	CHECK(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == 0, "BIND_IOMMUFD");
	struct ioas_alloc alloc = { .size = sizeof(alloc) };
	CHECK(ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) == 0, "IOAS_ALLOC");
	struct attach attach = { .argsz = sizeof(attach), .pt_id = alloc.out_ioas_id };
	CHECK(ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) == 0, "ATTACH_IOMMUFD_PT");

	CHECK(ioctl(dev, VFIO_DEVICE_GET_INFO, &info) == 0, "GET_INFO");
	CHECK(info.num_regions >= 9 && info.num_irqs >= 2, "regions %u irqs %u", info.num_regions, info.num_irqs);
	struct region_info bar0 = { .argsz = sizeof(bar0), .index = BAR0 };
	CHECK(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0) == 0 && bar0.size == 1 << 20 &&
	      bar0.offset == REGION(BAR0), "BAR0 info %#llx", (unsigned long long)bar0.size);
	struct region_info config = { .argsz = sizeof(config), .index = CONFIG };
	CHECK(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &config) == 0 && config.size == 256 &&
	      config.offset == REGION(CONFIG), "config info %#llx", (unsigned long long)config.size);

	/* A forked child does not reach the file; its close releases nothing. */
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0) {
		int bad = ioctl(dev, VFIO_DEVICE_GET_INFO, &info) != -1 || errno != EBADF ||
			  pread(dev, &id, 4, REGION(CONFIG)) != -1 || errno != EBADF;
		close(dev);
		_exit(bad);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
	      "child %#x", status);
	CHECK(rd32(dev, REGION(CONFIG)) == 0x11e81234, "config id");
	uint16_t command;
	CHECK(pread(dev, &command, 2, REGION(CONFIG) + 4) == 2, "read command");
	command |= 0x6; /* Memory Space, Bus Master */
	CHECK(pwrite(dev, &command, 2, REGION(CONFIG) + 4) == 2, "write command");
	CHECK((rd32(dev, REGION(CONFIG) + 4) & 0x6) == 0x6, "command");

	CHECK(rd32(dev, REGION(BAR0) + EDU_ID) == 0x010000ed, "edu id");
	wr32(dev, REGION(BAR0) + EDU_LIVENESS, 0x12345678);
	CHECK(rd32(dev, REGION(BAR0) + EDU_LIVENESS) == ~0x12345678u, "liveness");
	/* read() at the file position, which starts at 0 (BAR 0) and advances by what was read
	 * (edu's low registers take 4-byte accesses only). */
	uint32_t words[2] = { 0, 0 };
	/* A count the compiler cannot see: fortified, these are __read_chk and __pread_chk. */
	volatile size_t four = 4;
	CHECK(read(dev, &words[0], four) == 4 && read(dev, &words[1], four) == 4, "read");
	CHECK(pread(dev, &id, four, REGION(CONFIG)) == 4 && id == 0x11e81234, "pread config");
	CHECK(words[0] == 0x010000ed && words[1] == ~0x12345678u, "read %08x %08x", words[0], words[1]);

	long page = sysconf(_SC_PAGESIZE);
	unsigned char *buf = dma_buffer(page, 7, 1);
	struct ioas_map map = {
		.size = sizeof(map), .ioas_id = alloc.out_ioas_id, .user_va = (uintptr_t)buf,
		.length = page, .iova = IOVA,
		.flags = MAP_FIXED_IOVA | MAP_READABLE | MAP_WRITEABLE,
	};
	CHECK(ioctl(iommufd, IOMMU_IOAS_MAP, &map) == 0, "IOAS_MAP");

	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(efd >= 0, "eventfd");
	struct irq_set irqs = {
		.argsz = sizeof(irqs), .flags = IRQ_DATA_EVENTFD | IRQ_ACTION_TRIGGER,
		.index = MSI_INDEX, .start = 0, .count = 1, .fd = iommufd,
	};
	CHECK(ioctl(dev, VFIO_DEVICE_SET_IRQS, &irqs) == -1 && errno == EINVAL, "SET_IRQS iommufd");
	irqs.fd = 1000;
	CHECK(ioctl(dev, VFIO_DEVICE_SET_IRQS, &irqs) == -1 && errno == EBADF, "SET_IRQS closed fd");
	irqs.fd = efd;
	CHECK(ioctl(dev, VFIO_DEVICE_SET_IRQS, &irqs) == 0, "SET_IRQS");

	/* RAM -> edu buffer, then edu buffer -> RAM at buf + 256. */
	dma(dev, IOVA, 0);
	CHECK((rd64(dev, REGION(BAR0) + EDU_DMA_CMD) & EDU_CMD_RUN) == 0, "dma to device");
	CHECK(interrupts(efd) == 1, "one interrupt");
	wr32(dev, REGION(BAR0) + EDU_IRQ_ACK, rd32(dev, REGION(BAR0) + EDU_IRQ_STATUS));
	dma(dev, IOVA + 256, 1);
	CHECK((rd64(dev, REGION(BAR0) + EDU_DMA_CMD) & EDU_CMD_RUN) == 0, "dma to RAM");
	CHECK(interrupts(efd) == 1, "second interrupt");
	wr32(dev, REGION(BAR0) + EDU_IRQ_ACK, rd32(dev, REGION(BAR0) + EDU_IRQ_STATUS));
	CHECK(!memcmp(buf, buf + 256, 256), "bytes differ");
	mapped_bar(dev, buf, IOVA);

	struct ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = alloc.out_ioas_id, .iova = IOVA, .length = page };
	CHECK(ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap) == 0, "IOAS_UNMAP");
	memset(buf + 512, 0xa5, 256);
	dma(dev, IOVA + 512, 1);
	/* The IOMMU refuses the write; edu completes the transfer anyway, as QEMU's does. */
	CHECK((rd64(dev, REGION(BAR0) + EDU_DMA_CMD) & EDU_CMD_RUN) == 0, "dma after unmap stuck");
	CHECK(interrupts(efd) == 1, "completion interrupt after unmap");
	for (int i = 0; i < 256; i++)
		CHECK(buf[512 + i] == 0xa5, "destination changed");

	close(efd);
	munmap(buf, page);
	int dup_dev = dup(dev);
	CHECK(dup_dev >= 0, "dup");
	close(dev);
	/* Still open through the duplicate: still bound. */
	CHECK(ioctl(dup_dev, VFIO_DEVICE_GET_INFO, &info) == 0, "GET_INFO through dup");
	close(dup_dev);
	CHECK(ioctl(dup_dev, VFIO_DEVICE_GET_INFO, &info) == -1 && errno == EBADF, "closed");
	struct destroy destroy = { .size = sizeof(destroy), .id = alloc.out_ioas_id };
	CHECK(ioctl(iommufd, IOMMU_DESTROY, &destroy) == 0, "destroy IOAS after the device is gone");
	close(iommufd);
}

int main(void)
{
	char cdev[PATH_MAX] = "";
	find_cdev(cdev, sizeof(cdev));
	CHECK(cdev[0], "no vfio cdev");
	round_trip(cdev);
	round_trip(cdev);
	printf("ok\n");
	return 0;
}
