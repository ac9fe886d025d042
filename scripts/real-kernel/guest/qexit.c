/* Ends the guest with a verdict: writes argv[1] to QEMU's isa-debug-exit port (0xf4), which
 * makes QEMU exit with status (value << 1) | 1: 1 for 0 (pass), 3 for 1 (fail). */
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
	int verdict = argc > 1 ? atoi(argv[1]) : 1;

	if (ioperm(0xf4, 4, 1))
		return 1;
	outl(verdict, 0xf4);
	return 0;
}
