/* The queues' files and iommufd's mmap, for the trace: a page request raised on a mock device
 * (IOMMU_TEST_OP_TRIGGER_IOPF) read from its fault queue and answered, a selftest vIOMMU's page
 * mapped and unmapped, and a vIOMMU event (IOMMU_TEST_OP_TRIGGER_VEVENT) of the device attached
 * to a nested HWPT on the vIOMMU read from its vEVENTQ; with UIOMMU_FAULT_INJECTION set, the
 * thread's fail-nth file written and read. Prints "ok" or what went wrong.
 *
 * The uAPI definitions are Linux 7.3's (include/uapi/linux/iommufd.h and the selftest's
 * iommufd_test.h), restated so that the program builds with any libc's headers. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define T ';'
#define IOMMU_IOAS_ALLOC _IO(T, 0x81)
#define IOMMU_HWPT_ALLOC _IO(T, 0x89)
#define IOMMU_FAULT_QUEUE_ALLOC _IO(T, 0x8e)
#define IOMMU_VIOMMU_ALLOC _IO(T, 0x90)
#define IOMMU_VDEVICE_ALLOC _IO(T, 0x91)
#define IOMMU_VEVENTQ_ALLOC _IO(T, 0x93)
#define IOMMU_TEST_CMD _IO(T, 0xa0)
#define OP_MOCK_DOMAIN 2
#define OP_MOCK_DOMAIN_REPLACE 10
#define OP_TRIGGER_IOPF 15
#define OP_TRIGGER_VEVENT 17
#define HWPT_ALLOC_NEST_PARENT 1
#define HWPT_FAULT_ID_VALID 4
#define HWPT_DATA_SELFTEST 0xdead
#define IOTLB_DEFAULT 0xbadbeef
#define VIOMMU_TYPE_SELFTEST 0xdeadbeef
#define VEVENTQ_TYPE_SELFTEST 0xbeefbeef
#define PERM_READ 1
#define PERM_WRITE 2

struct ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct test_cmd {
	uint32_t size, op, id, reserved;
	union {
		struct { uint32_t stdev, hwpt, idev; } md;
		struct { uint32_t pt_id; } replace;
		struct { uint32_t dev_id, pasid, grpid, perm; uint64_t addr; } iopf;
		struct { uint32_t dev_id; } vevent;
		uint8_t pad[48];
	};
	uint64_t last;
};
struct fault_alloc { uint32_t size, flags, out_fault_id, out_fault_fd; };
struct hwpt_alloc {
	uint32_t size, flags, dev_id, pt_id, out_hwpt_id, reserved, data_type, data_len;
	uint64_t data_uptr;
	uint32_t fault_id, reserved2;
};
struct hwpt_selftest { uint32_t iotlb, pagetable_type; };
struct pgfault {
	uint32_t flags, dev_id, pasid, grpid, perm, reserved;
	uint64_t addr;
	uint32_t length, cookie;
};
struct page_response { uint32_t cookie, code; };
struct viommu_alloc {
	uint32_t size, flags, type, dev_id, hwpt_id, out_viommu_id, data_len, reserved;
	uint64_t data_uptr;
};
struct viommu_selftest { uint32_t in_data, out_data; uint64_t out_mmap_offset, out_mmap_length; };
struct vdevice_alloc { uint32_t size, viommu_id, dev_id, out_vdevice_id; uint64_t virt_id; };
struct veventq_alloc {
	uint32_t size, flags, viommu_id, type, depth, out_veventq_id, out_veventq_fd, reserved;
};

#define CHECK(cond, what) \
	do { \
		if (!(cond)) \
			return printf("%s: %s\n", what, strerror(errno)), 1; \
	} while (0)

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	CHECK(fd >= 0, "open");
	struct ioas_alloc ioas = { .size = sizeof(ioas) };
	CHECK(!ioctl(fd, IOMMU_IOAS_ALLOC, &ioas), "IOAS_ALLOC");
	struct test_cmd md = { .size = sizeof(md), .op = OP_MOCK_DOMAIN, .id = ioas.out_ioas_id };
	CHECK(!ioctl(fd, IOMMU_TEST_CMD, &md), "MOCK_DOMAIN");
	uint32_t idev = md.md.idev;

	/* A nested HWPT reporting to a fault queue, attached to the mock device. */
	struct fault_alloc fault = { .size = sizeof(fault) };
	CHECK(!ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &fault), "FAULT_QUEUE_ALLOC");
	struct hwpt_alloc parent = {
		.size = sizeof(parent), .flags = HWPT_ALLOC_NEST_PARENT, .dev_id = idev,
		.pt_id = ioas.out_ioas_id,
	};
	CHECK(!ioctl(fd, IOMMU_HWPT_ALLOC, &parent), "HWPT_ALLOC parent");
	struct hwpt_selftest data = { .iotlb = IOTLB_DEFAULT };
	struct hwpt_alloc nested = {
		.size = sizeof(nested), .flags = HWPT_FAULT_ID_VALID, .dev_id = idev,
		.pt_id = parent.out_hwpt_id, .data_type = HWPT_DATA_SELFTEST,
		.data_len = sizeof(data), .data_uptr = (uintptr_t)&data, .fault_id = fault.out_fault_id,
	};
	CHECK(!ioctl(fd, IOMMU_HWPT_ALLOC, &nested), "HWPT_ALLOC nested");
	struct test_cmd replace = { .size = sizeof(replace), .op = OP_MOCK_DOMAIN_REPLACE,
				    .id = md.md.stdev, .replace.pt_id = nested.out_hwpt_id };
	CHECK(!ioctl(fd, IOMMU_TEST_CMD, &replace), "MOCK_DOMAIN_REPLACE");

	/* The page request: read (room for two records, one group of one), then answered. */
	struct test_cmd iopf = { .size = sizeof(iopf), .op = OP_TRIGGER_IOPF,
				 .iopf = { .dev_id = idev, .grpid = 2, .perm = PERM_READ | PERM_WRITE,
					   .addr = 0xdeadb000 } };
	CHECK(!ioctl(fd, IOMMU_TEST_CMD, &iopf), "TRIGGER_IOPF");
	struct pgfault rec[2];
	CHECK(read(fault.out_fault_fd, rec, sizeof(rec)) == sizeof(rec[0]), "read fault");
	struct page_response resp = { .cookie = rec[0].cookie };
	CHECK(write(fault.out_fault_fd, &resp, sizeof(resp)) == sizeof(resp), "write response");

	/* The selftest vIOMMU's page through iommufd's mmap. */
	struct viommu_selftest vdata = { .in_data = 0xbeef };
	struct viommu_alloc viommu = {
		.size = sizeof(viommu), .type = VIOMMU_TYPE_SELFTEST, .dev_id = idev,
		.hwpt_id = parent.out_hwpt_id, .data_len = sizeof(vdata), .data_uptr = (uintptr_t)&vdata,
	};
	CHECK(!ioctl(fd, IOMMU_VIOMMU_ALLOC, &viommu), "VIOMMU_ALLOC");
	void *page = mmap(NULL, vdata.out_mmap_length, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			  vdata.out_mmap_offset);
	CHECK(page != MAP_FAILED, "mmap");
	CHECK(!munmap(page, vdata.out_mmap_length), "munmap");

	/* A vIOMMU event of the device, read from the vEVENTQ. */
	struct vdevice_alloc vdev = { .size = sizeof(vdev), .viommu_id = viommu.out_viommu_id,
				      .dev_id = idev, .virt_id = 0x99 };
	CHECK(!ioctl(fd, IOMMU_VDEVICE_ALLOC, &vdev), "VDEVICE_ALLOC");
	struct hwpt_alloc on_viommu = {
		.size = sizeof(on_viommu), .dev_id = idev, .pt_id = viommu.out_viommu_id,
		.data_type = HWPT_DATA_SELFTEST, .data_len = sizeof(data), .data_uptr = (uintptr_t)&data,
	};
	CHECK(!ioctl(fd, IOMMU_HWPT_ALLOC, &on_viommu), "HWPT_ALLOC on the vIOMMU");
	replace.replace.pt_id = on_viommu.out_hwpt_id;
	CHECK(!ioctl(fd, IOMMU_TEST_CMD, &replace), "MOCK_DOMAIN_REPLACE to the vIOMMU");
	struct veventq_alloc veventq = { .size = sizeof(veventq), .viommu_id = viommu.out_viommu_id,
					 .type = VEVENTQ_TYPE_SELFTEST, .depth = 2 };
	CHECK(!ioctl(fd, IOMMU_VEVENTQ_ALLOC, &veventq), "VEVENTQ_ALLOC");
	struct test_cmd vevent = { .size = sizeof(vevent), .op = OP_TRIGGER_VEVENT,
				   .vevent.dev_id = idev };
	CHECK(!ioctl(fd, IOMMU_TEST_CMD, &vevent), "TRIGGER_VEVENT");
	uint32_t buf[16];
	CHECK(read(veventq.out_veventq_fd, buf, sizeof(buf)) == 12, "read vevent");
	/* iommufd has no read method: EINVAL, its line undecoded. */
	CHECK(pread(fd, buf, 4, 0) == -1 && errno == EINVAL, "pread iommufd");

	/* With fault injection, this thread's fail-nth file: armed, read back, disarmed. */
	if (getenv("UIOMMU_FAULT_INJECTION")) {
		char path[64], text[16] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
		int nth = open(path, O_RDWR);
		CHECK(nth >= 0, "open fail-nth");
		CHECK(write(nth, "3", 1) == 1, "arm fail-nth");
		CHECK(read(nth, text, sizeof(text)) > 0 && text[0] == '3', "read fail-nth");
		CHECK(write(nth, "0", 1) == 1, "disarm fail-nth");
		close(nth);
	}
	puts("ok");
	return 0;
}
