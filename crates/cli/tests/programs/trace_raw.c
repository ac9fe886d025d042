/* `uiommu trace`'s test program: IOMMU calls by raw system calls (no libc wrapper to
 * interpose), in the process, a forked child and a thread. `uiommu trace --test-node
 * /dev/null=iommufd` takes /dev/null for /dev/iommu, so the kernel answers each ioctl
 * ENOTTY and the trace decodes it.
 *
 *   trace_raw             the calls, then exit 3
 *   trace_raw term        killed by SIGTERM
 *   trace_raw ioctl FD    one IOMMU_DESTROY on FD (inherited across exec), then exit 0
 *   trace_raw block PATH  opens PATH and blocks reading it
 *   trace_raw execs       opens /dev/null, then a vfork'ed child and a thread each run
 *                         "trace_raw ioctl 3" by execve (the thread's exec takes the
 *                         process over)
 *   trace_raw io PATH     opens PATH (taken for a device file) and reads it by pread64,
 *                         read, preadv2 and mmap
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static long raw6(long nr, long a, long b, long c, long d, long e, long f)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

#define IOMMU_DESTROY 0x3b80
#define IOMMU_IOAS_ALLOC 0x3b81
#define IOMMU_OPTION 0x3b87

struct ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct destroy { uint32_t size, id; };
struct option { uint32_t size, option_id; uint16_t op, reserved; uint32_t object_id; uint64_t val64; };

static int shared_fd;

static void *thread(void *arg)
{
	struct destroy d = { sizeof(d), 42 };
	(void)arg;
	raw(SYS_ioctl, shared_fd, IOMMU_DESTROY, (long)&d);
	return 0;
}

extern char **environ;
static char *self;

static void *exec_thread(void *arg)
{
	char *args[] = { self, "ioctl", "3", 0 };
	(void)arg;
	raw(SYS_execve, (long)self, (long)args, (long)environ);
	return 0;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1 && !strcmp(argv[1], "term"))
		raw(SYS_kill, raw(SYS_getpid, 0, 0, 0), SIGTERM, 0);
	if (argc > 2 && !strcmp(argv[1], "ioctl")) {
		struct destroy d = { sizeof(d), 5 };
		raw(SYS_ioctl, atoi(argv[2]), IOMMU_DESTROY, (long)&d);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "execs")) {
		char *args[] = { self, "ioctl", "3", 0 };
		pthread_t t;
		raw(SYS_open, (long)"/dev/null", 2, 0);
		pid_t child = vfork();
		if (child == 0) {
			raw(SYS_execve, (long)self, (long)args, (long)environ);
			_exit(127);
		}
		waitpid(child, 0, 0);
		pthread_create(&t, 0, exec_thread, 0);
		pthread_join(t, 0);
		return 1; /* not reached: the thread's exec replaces the process */
	}
	if (argc > 2 && !strcmp(argv[1], "io")) {
		uint32_t v = 0, w = 0;
		struct { void *base; unsigned long len; } iov = { &w, 4 };
		int fd = raw(SYS_open, (long)argv[2], 0, 0);
		raw6(SYS_pread64, fd, (long)&v, 4, 4, 0, 0);
		raw(SYS_read, fd, (long)&v, 4);
		raw6(SYS_preadv2, fd, (long)&iov, 1, 8, 0, 0);
		raw6(SYS_mmap, 0, 4096, 1 /* PROT_READ */, 1 /* MAP_SHARED */, fd, 0);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "block")) {
		char c;
		int fd = raw(SYS_open, (long)argv[2], 2, 0);
		raw(SYS_read, fd, (long)&c, 1);
		return 0;
	}
	raw(SYS_openat, -100, (long)"/dev/iommu", 2);
	int fd = raw(SYS_open, (long)"/dev/null", 2, 0);
	struct ioas_alloc a = { sizeof(a), 0, 0 };
	raw(SYS_ioctl, fd, IOMMU_IOAS_ALLOC, (long)&a);
	struct option o = { sizeof(o), 0, 1, 0, 0, 0 };
	raw(SYS_ioctl, fd, IOMMU_OPTION, (long)&o);
	/* Not a traced file: no line. */
	raw(SYS_ioctl, 1, IOMMU_OPTION, (long)&o);
	shared_fd = raw(SYS_dup, fd, 0, 0);
	raw(SYS_close, fd, 0, 0);
	/* Closed: no line. */
	raw(SYS_ioctl, fd, IOMMU_OPTION, (long)&o);
	pid_t child = fork();
	if (child == 0) {
		struct destroy d = { sizeof(d), 7 };
		raw(SYS_ioctl, shared_fd, IOMMU_DESTROY, (long)&d);
		_exit(0);
	}
	waitpid(child, 0, 0);
	pthread_t t;
	pthread_create(&t, 0, thread, 0);
	pthread_join(t, 0);
	return 3;
}
