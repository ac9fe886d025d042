/* Finds the emulated edu device as a VFIO program does: walks /sys/bus/pci/devices, matches
 * vendor and device, follows iommu_group, reads vfio-dev/vfioN/dev, stats the cdev and
 * /dev/iommu, reads the config space and resolves the device link; opens the cdev, and the group
 * node once at a time.
 * Prints "ok" or why not, and exits non-zero. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FAIL(...) do { printf(__VA_ARGS__); printf("\n"); exit(1); } while (0)

static unsigned read_hex(const char *dev, const char *attr)
{
	char path[PATH_MAX];
	unsigned v = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, attr);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%x", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

int main(void)
{
	char dev[64] = "", path[PATH_MAX], link[PATH_MAX];
	int entries = 0;
	DIR *d = opendir("/sys/bus/pci/devices");
	if (!d)
		FAIL("opendir devices: %s", strerror(errno));
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		entries++;
		if (read_hex(e->d_name, "vendor") == 0x1234 && read_hex(e->d_name, "device") == 0x11e8)
			snprintf(dev, sizeof(dev), "%s", e->d_name);
	}
	closedir(d);
	if (!dev[0])
		FAIL("no edu among %d devices", entries);
	if (read_hex(dev, "class") != 0xff00)
		FAIL("class");

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", dev);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		FAIL("readlink iommu_group: %s", strerror(errno));
	link[n] = 0;
	char *slash = strrchr(link, '/');
	int group = atoi(slash ? slash + 1 : link);
	if (strncmp(link, "../../../kernel/iommu_groups/", 29))
		FAIL("iommu_group -> %s", link);
	struct stat st;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices/%s", group, dev);
	if (lstat(path, &st) || !S_ISLNK(st.st_mode))
		FAIL("lstat %s", path);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	if (stat(path, &st) || !S_ISCHR(st.st_mode))
		FAIL("stat %s", path);

	/* QEMU 11's -object iommufd checks that /dev/iommu exists before opening it. */
	if (access("/dev/iommu", F_OK) || stat("/dev/iommu", &st) || !S_ISCHR(st.st_mode))
		FAIL("/dev/iommu: %s", strerror(errno));

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", dev);
	d = opendir(path);
	if (!d)
		FAIL("opendir vfio-dev: %s", strerror(errno));
	char cdev[64] = "";
	for (struct dirent *e; (e = readdir(d));)
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(cdev, sizeof(cdev), "%s", e->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev/%s/dev", dev, cdev);
	FILE *f = fopen(path, "r");
	unsigned major = 0, minor = 0;
	if (!f || fscanf(f, "%u:%u", &major, &minor) != 2)
		FAIL("read %s", path);
	fclose(f);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	if (stat(path, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(major, minor))
		FAIL("stat %s: %u:%u", path, major(st.st_rdev), minor(st.st_rdev));
	int cfd = open(path, O_RDWR);
	if (cfd < 0)
		FAIL("open %s: %s", path, strerror(errno));
	/* The open file is the node (QEMU's vfio-pci checks this after opening it). */
	struct stat fst;
	if (fstat(cfd, &fst) || !S_ISCHR(fst.st_mode) || fst.st_rdev != st.st_rdev ||
	    fst.st_ino != st.st_ino)
		FAIL("fstat %s: mode %o, %u:%u", path, fst.st_mode, major(fst.st_rdev),
		     minor(fst.st_rdev));
	struct statx stx;
	if (statx(cfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) || !S_ISCHR(stx.stx_mode) ||
	    stx.stx_rdev_major != major || stx.stx_rdev_minor != minor)
		FAIL("statx %s", path);
	close(cfd);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	int gfd = open(path, O_RDWR);
	if (gfd < 0)
		FAIL("open %s: %s", path, strerror(errno));
	struct stat gst;
	if (fstat(gfd, &fst) || stat(path, &gst) || !S_ISCHR(fst.st_mode) ||
	    fst.st_rdev != gst.st_rdev)
		FAIL("fstat %s", path);
	if (open(path, O_RDWR) != -1 || errno != EBUSY)
		FAIL("open %s twice: %s", path, strerror(errno));
	close(gfd);

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", dev);
	int fd = open(path, O_RDONLY);
	unsigned id = 0;
	if (fd < 0 || pread(fd, &id, 4, 0) != 4 || id != 0x11e81234)
		FAIL("config: %08x", id);
	if (fstat(fd, &st) || st.st_size != 256)
		FAIL("config size");
	close(fd);
	if (access(path, R_OK) || access(path, W_OK) != -1)
		FAIL("access config");

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", dev);
	char *real = realpath(path, NULL);
	snprintf(link, sizeof(link), "/sys/devices/pci0000:00/%s", dev);
	if (!real || strcmp(real, link))
		FAIL("realpath %s = %s", path, real ? real : strerror(errno));
	free(real);
	printf("ok %s group %d %s %u:%u\n", dev, group, cdev, major, minor);
	return 0;
}
