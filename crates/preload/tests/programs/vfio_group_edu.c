/* A user-space driver for the emulated edu device through the legacy VFIO group and type1
 * container API, as older VFIO programs drive a real one: the container /dev/vfio/vfio, the
 * group /dev/vfio/GROUP found through sysfs (iommu_group), SET_CONTAINER and SET_IOMMU(TYPE1v2),
 * a device fd from GET_DEVICE_FD, DMA both ways through a MAP_DMA mapping by pwrite/pread of
 * BAR 0, no byte landing once unmapped (the transfer completes, as on QEMU); the group open
 * and the device's cdev bound exclude each other.
 * Prints "ok" or why not, and exits non-zero.
 *
 * The uAPI definitions are Linux 7.3's (include/uapi/linux/vfio.h), restated so that the
 * program builds with any libc's headers. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu.h"

#define TYPE ';'
#define VFIO_GET_API_VERSION _IO(TYPE, 100)
#define VFIO_CHECK_EXTENSION _IO(TYPE, 101)
#define VFIO_SET_IOMMU _IO(TYPE, 102)
#define VFIO_GROUP_GET_STATUS _IO(TYPE, 103)
#define VFIO_GROUP_SET_CONTAINER _IO(TYPE, 104)
#define VFIO_GROUP_UNSET_CONTAINER _IO(TYPE, 105)
#define VFIO_GROUP_GET_DEVICE_FD _IO(TYPE, 106)
#define VFIO_DEVICE_GET_INFO _IO(TYPE, 107)
#define VFIO_DEVICE_BIND_IOMMUFD _IO(TYPE, 118)
#define VFIO_IOMMU_MAP_DMA _IO(TYPE, 113)
#define VFIO_IOMMU_UNMAP_DMA _IO(TYPE, 114)
#define VFIO_TYPE1v2_IOMMU 3
#define GROUP_VIABLE 1
#define GROUP_CONTAINER_SET 2
#define DMA_READ 1
#define DMA_WRITE 2

struct group_status { uint32_t argsz, flags; };
struct device_info { uint32_t argsz, flags, num_regions, num_irqs, cap_offset, pad; };
struct dma_map { uint32_t argsz, flags; uint64_t vaddr, iova, size; };
struct dma_unmap { uint32_t argsz, flags; uint64_t iova, size; };
struct bind { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; };

#define NAME "0000:00:10.0"

#define rd64(fd, off) rd(fd, off, 8)
#define wr64(fd, off, v) wr(fd, off, v, 8)

/* One transfer of 256 bytes between RAM at `ram` (an IOVA) and edu's buffer. */
static void dma(int dev, uint64_t ram, int to_ram)
{
	wr64(dev, REGION(BAR0) + (to_ram ? EDU_DMA_SRC : EDU_DMA_DST), EDU_BUFFER);
	wr64(dev, REGION(BAR0) + (to_ram ? EDU_DMA_DST : EDU_DMA_SRC), ram);
	wr64(dev, REGION(BAR0) + EDU_DMA_COUNT, 256);
	wr64(dev, REGION(BAR0) + EDU_DMA_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
}

/* The IOMMU group of the function NAME, from its sysfs iommu_group link. */
static int iommu_group(void)
{
	char link[PATH_MAX];
	ssize_t n = readlink("/sys/bus/pci/devices/" NAME "/iommu_group", link, sizeof(link) - 1);
	CHECK(n > 0, "readlink iommu_group");
	link[n] = 0;
	return atoi(basename(link));
}

/* The function's cdev, /dev/vfio/devices/vfioN, from its sysfs vfio-dev directory. */
static int open_cdev(void)
{
	char path[300] = "";
	DIR *d = opendir("/sys/bus/pci/devices/" NAME "/vfio-dev");
	CHECK(d, "opendir vfio-dev");
	for (struct dirent *e; (e = readdir(d));)
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
	closedir(d);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0, "open %s", path);
	return fd;
}

static uint32_t status(int group)
{
	struct group_status s = { .argsz = sizeof(s) };
	CHECK(ioctl(group, VFIO_GROUP_GET_STATUS, &s) == 0, "GET_STATUS");
	return s.flags;
}

int main(void)
{
	int container = open("/dev/vfio/vfio", O_RDWR);
	CHECK(container >= 0, "open /dev/vfio/vfio");
	CHECK(ioctl(container, VFIO_GET_API_VERSION) == 0, "API version");
	CHECK(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1, "TYPE1v2");

	char path[64];
	snprintf(path, sizeof(path), "/dev/vfio/%d", iommu_group());
	int group = open(path, O_RDWR);
	CHECK(group >= 0, "open %s", path);
	CHECK(open(path, O_RDWR) == -1 && errno == EBUSY, "second open of %s", path);
	/* While the group is open, its device's cdev does not bind. */
	int cdev = open_cdev();
	struct bind bind = { .argsz = sizeof(bind), .iommufd = container };
	CHECK(ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == -1 && errno == EBUSY, "cdev bind, group open");
	CHECK(status(group) == GROUP_VIABLE, "status %#x", status(group));
	CHECK(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, NAME) == -1 && errno == EINVAL, "device without container");
	CHECK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER) == -1 && errno == EINVAL, "unset without container");
	CHECK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &group) == -1 && errno == EBADFD, "group as container");
	CHECK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) == 0, "SET_CONTAINER");
	CHECK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0, "SET_IOMMU");
	CHECK(status(group) == (GROUP_VIABLE | GROUP_CONTAINER_SET), "status %#x", status(group));
	CHECK(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "0000:00:1f.0") == -1 && errno == ENODEV, "unknown name");

	int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, NAME);
	CHECK(dev >= 0, "GET_DEVICE_FD");
	CHECK(fcntl(dev, F_GETFD) == FD_CLOEXEC, "device fd close-on-exec");
	CHECK(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == -1 && errno == EINVAL, "bind a group's device");
	struct device_info info = { .argsz = sizeof(info) };
	CHECK(ioctl(dev, VFIO_DEVICE_GET_INFO, &info) == 0 && info.num_regions >= 9, "GET_INFO");
	uint16_t command;
	CHECK(pread(dev, &command, 2, REGION(CONFIG) + 4) == 2, "read command");
	command |= 0x6; /* Memory Space, Bus Master */
	CHECK(pwrite(dev, &command, 2, REGION(CONFIG) + 4) == 2, "write command");
	uint32_t id = 0;
	CHECK(pread(dev, &id, 4, REGION(BAR0) + EDU_ID) == 4 && id == 0x010000ed, "edu id");

	long page = sysconf(_SC_PAGESIZE);
	unsigned char *buf = dma_buffer(page, 5, 3);
	struct dma_map map = {
		.argsz = sizeof(map), .flags = DMA_READ | DMA_WRITE,
		.vaddr = (uintptr_t)buf, .iova = IOVA, .size = page,
	};
	CHECK(ioctl(container, VFIO_IOMMU_MAP_DMA, &map) == 0, "MAP_DMA");

	/* RAM -> edu buffer, then edu buffer -> RAM at buf + 256. */
	dma(dev, IOVA, 0);
	CHECK((rd64(dev, REGION(BAR0) + EDU_DMA_CMD) & EDU_CMD_RUN) == 0, "dma to device");
	dma(dev, IOVA + 256, 1);
	CHECK((rd64(dev, REGION(BAR0) + EDU_DMA_CMD) & EDU_CMD_RUN) == 0, "dma to RAM");
	CHECK(!memcmp(buf, buf + 256, 256), "bytes differ");

	struct dma_unmap unmap = { .argsz = sizeof(unmap), .iova = IOVA, .size = page };
	CHECK(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) == 0 && unmap.size == (uint64_t)page, "UNMAP_DMA");
	memset(buf + 512, 0xa5, 256);
	dma(dev, IOVA + 512, 1);
	/* The IOMMU refuses the write; edu completes the transfer anyway, as QEMU's does. */
	CHECK((rd64(dev, REGION(BAR0) + EDU_DMA_CMD) & EDU_CMD_RUN) == 0, "dma after unmap stuck");
	for (int i = 0; i < 256; i++)
		CHECK(buf[512 + i] == 0xa5, "destination changed");
	munmap(buf, page);

	close(dev);
	CHECK(ioctl(dev, VFIO_DEVICE_GET_INFO, &info) == -1 && errno == EBADF, "closed device");
	CHECK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER) == 0, "UNSET_CONTAINER");
	CHECK(status(group) == GROUP_VIABLE, "status after unset %#x", status(group));
	close(group);
	/* Closed, the group lets the cdev bind, which keeps the group from opening until the
	 * cdev is closed. */
	CHECK(ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bind) == 0, "cdev bind, group closed");
	CHECK(open(path, O_RDWR) == -1 && errno == EBUSY, "open %s, cdev bound", path);
	close(cdev);
	group = open(path, O_RDWR);
	CHECK(group >= 0, "reopen %s", path);
	close(group);
	close(container);
	printf("ok\n");
	return 0;
}
