/* The VF test's setup as vfio_pci_sriov_uapi_test does it: write 1 to the PF's sriov_numvfs
 * with write(2), fork, and read virtfn0 in the child; the parent then writes 0 back with
 * dprintf, whose write is libc's own (as a shell's echo makes): it reaches the attribute at
 * close. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PF "/sys/bus/pci/devices/0000:00:10.0"

static int store(const char *v)
{
	int fd = open(PF "/sriov_numvfs", O_WRONLY);
	if (fd < 0)
		return -1;
	int ok = write(fd, v, strlen(v)) == (ssize_t)strlen(v);
	close(fd);
	return ok ? 0 : -1;
}

int main(void)
{
	if (store("1"))
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		char buf[64] = {0};
		if (readlink(PF "/virtfn0", buf, sizeof(buf) - 1) < 0)
			_exit(3);
		printf("child %s\n", buf);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || status != 0)
		return 4;
	int fd = open(PF "/sriov_numvfs", O_WRONLY);
	if (fd < 0 || dprintf(fd, "0\n") != 2 || close(fd))
		return 5;
	char buf[64] = {0};
	printf("parent %d\n", (int)readlink(PF "/virtfn0", buf, sizeof(buf) - 1) < 0 ? 0 : 1);
	/* A stream: fprintf's write and fclose's error are the attribute's. */
	FILE *f = fopen(PF "/sriov_numvfs", "w");
	if (!f || fprintf(f, "1\n") != 2 || fclose(f))
		return 6;
	f = fopen(PF "/sriov_numvfs", "w");
	if (!f)
		return 7;
	fprintf(f, "5\n");
	if (fclose(f) != EOF || errno != ERANGE)
		return 8;
	fflush(stdout);
	if (readlink(PF "/virtfn0", buf, sizeof(buf) - 1) < 0)
		return 9;
	return 0;
}
