/* Threads loop an ioctl (IOMMU_DESTROY of a missing ID: ENOENT) on an iommufd while the main
 * thread closes it (close, close_range, or dup2 of another iommufd over it) and opens the next,
 * which usually reuses the number. Every answer must be the command's own (ENOENT) or EBADF:
 * never an answer from the file behind the fd (ENOTTY). Prints "ok" or the counts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define IOMMU_DESTROY _IO(';', 0x80)
#define THREADS 4
#define CYCLES 15000

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};

static atomic_int cur = -1;
static atomic_int stop;
static atomic_long answers, ebadf, wrong, enotty;

static void *looper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct iommu_destroy d = { .size = sizeof(d), .id = 0x7fffffff };
		int fd = atomic_load(&cur);
		if (ioctl(fd, IOMMU_DESTROY, &d) == 0) {
			atomic_fetch_add(&wrong, 1);
			continue;
		}
		if (errno == ENOENT)
			atomic_fetch_add(&answers, 1);
		else if (errno == EBADF)
			atomic_fetch_add(&ebadf, 1);
		else if (errno == ENOTTY)
			atomic_fetch_add(&enotty, 1);
		else
			atomic_fetch_add(&wrong, 1);
	}
	return NULL;
}

static int open_iommu(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) {
		perror("open /dev/iommu");
		_exit(2);
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "close";
	pthread_t t[THREADS];
	alarm(30); /* a hang fails too */
	atomic_store(&cur, open_iommu());
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, looper, NULL);
	for (int i = 0; i < CYCLES; i++) {
		int fd = atomic_load(&cur);
		if (!strcmp(how, "close_range")) {
			close_range(fd, fd, 0);
		} else if (!strcmp(how, "dup2")) {
			int other = open_iommu();
			dup2(other, fd);
			close(other);
			continue;
		} else {
			close(fd);
		}
		atomic_store(&cur, open_iommu());
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (atomic_load(&enotty) || atomic_load(&wrong)) {
		printf("%s: %ld ENOTTY, %ld other answers (%ld ENOENT, %ld EBADF)\n", how,
		       atomic_load(&enotty), atomic_load(&wrong), atomic_load(&answers),
		       atomic_load(&ebadf));
		return 1;
	}
	printf("ok\n");
	return 0;
}
