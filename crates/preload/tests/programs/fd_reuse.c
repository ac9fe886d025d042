/* An iommufd given up without close(): with syscall(SYS_close), syscall(SYS_close_range),
 * closefrom, or syscall(SYS_dup2) of another file over it. The number then names the other
 * file (/dev/null), and calls on it must reach that file: write succeeds and IOMMU_DESTROY is
 * the file's ENOTTY, never the iommufd's ENOENT. A syscall(SYS_dup3) of an iommufd shares it.
 * Prints "ok" or what went wrong. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IOMMU_DESTROY _IO(';', 0x80)

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};

static int destroy_errno(int fd)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = 0x7fffffff };
	return ioctl(fd, IOMMU_DESTROY, &d) == 0 ? 0 : errno;
}

static int fail(const char *how, const char *what, int v)
{
	printf("%s: %s (%d)\n", how, what, v);
	return 1;
}

static int check(const char *how)
{
	int nul = -1;
	if (!strcmp(how, "dup2"))
		nul = open("/dev/null", O_RDWR);
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return fail(how, "open /dev/iommu", errno);
	if (destroy_errno(fd) != ENOENT)
		return fail(how, "iommufd DESTROY", destroy_errno(fd));
	if (!strcmp(how, "close"))
		syscall(SYS_close, fd);
	else if (!strcmp(how, "close_range"))
		syscall(SYS_close_range, fd, fd, 0);
	else if (!strcmp(how, "closefrom"))
		closefrom(fd);
	else if (!strcmp(how, "dup2"))
		syscall(SYS_dup2, nul, fd);
	int other = fd;
	if (strcmp(how, "dup2"))
		other = open("/dev/null", O_RDWR);
	if (other != fd)
		return fail(how, "number not reused", other);
	if (write(fd, "x", 1) != 1)
		return fail(how, "write to /dev/null", errno);
	if (destroy_errno(fd) != ENOTTY)
		return fail(how, "DESTROY on /dev/null", destroy_errno(fd));
	close(fd);
	if (nul >= 0)
		close(nul);
	return 0;
}

int main(void)
{
	const char *ways[] = { "close", "close_range", "closefrom", "dup2" };
	for (unsigned i = 0; i < sizeof(ways) / sizeof(ways[0]); i++)
		if (check(ways[i]))
			return 1;
	int fd = open("/dev/iommu", O_RDWR);
	int copy = syscall(SYS_dup3, fd, 100, 0);
	if (copy != 100 || destroy_errno(copy) != ENOENT)
		return fail("dup3", "a duplicate is the iommufd", destroy_errno(copy));
	puts("ok");
	return 0;
}
