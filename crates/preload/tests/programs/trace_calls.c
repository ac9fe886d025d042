/* A few iommufd calls with known answers, for the trace: an IOAS allocated, a missing object
 * destroyed (ENOENT), a mock device attached through IOMMU_TEST_CMD, and VFIO_CHECK_EXTENSION
 * (a plain value) on the container. Prints "ok" or what went wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IOMMU_DESTROY _IO(';', 0x80)
#define IOMMU_IOAS_ALLOC _IO(';', 0x81)
#define IOMMU_TEST_CMD _IO(';', 0xa0)
#define IOMMU_TEST_OP_MOCK_DOMAIN 2
#define VFIO_CHECK_EXTENSION _IO(';', 100 + 1)

struct iommu_destroy {
	uint32_t size, id;
};
struct iommu_ioas_alloc {
	uint32_t size, flags, out_ioas_id;
};
struct iommu_test_cmd {
	uint32_t size, op, id, reserved;
	union {
		struct {
			uint32_t out_stdev_id, out_hwpt_id, out_idev_id;
		} mock_domain;
		uint8_t pad[48];
	};
	uint64_t last;
};

int main(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	struct iommu_destroy d = { .size = sizeof(d), .id = 99 };
	struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	if (fd != 3 || ioctl(fd, IOMMU_IOAS_ALLOC, &a) || a.out_ioas_id != 1)
		return printf("IOAS_ALLOC: fd %d, %s\n", fd, strerror(errno)), 1;
	if (ioctl(fd, IOMMU_DESTROY, &d) != -1 || errno != ENOENT)
		return printf("DESTROY: %s\n", strerror(errno)), 1;
	md.id = a.out_ioas_id;
	if (ioctl(fd, IOMMU_TEST_CMD, &md))
		return printf("MOCK_DOMAIN: %s\n", strerror(errno)), 1;
	int c = open("/dev/vfio/vfio", O_RDWR);
	if (c != 4 || ioctl(c, VFIO_CHECK_EXTENSION, 1) != 1)
		return printf("CHECK_EXTENSION: fd %d, %s\n", c, strerror(errno)), 1;
	puts("ok");
	return 0;
}
