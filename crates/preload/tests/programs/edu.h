/* What the VFIO test programs share: edu's registers (QEMU's docs/specs/edu.rst), the
 * vfio-pci region offsets, the checks that print why and exit non-zero, register access. */
#ifndef EDU_H
#define EDU_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BAR0 0ull
#define CONFIG 7ull
#define REGION(i) ((i) << 40)

#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_FACTORIAL 0x08
#define EDU_STATUS 0x20
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_RUN 1
#define EDU_CMD_TO_RAM 2
#define EDU_CMD_IRQ 4
#define EDU_BUFFER 0x40000
#define IOVA 0x1000000 /* inside the mock aperture and edu's 28-bit addresses */

#define FAIL(...) do { printf(__VA_ARGS__); printf(": %s\n", strerror(errno)); exit(1); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

/* A register of `n` bytes (at most 8, little-endian) at `off` of the device fd, by pread. */
static inline uint64_t rd(int fd, uint64_t off, size_t n)
{
	uint64_t v = 0;
	CHECK(pread(fd, &v, n, off) == (ssize_t)n, "pread %#llx", (unsigned long long)off);
	return v;
}

/* The same, written by pwrite. */
static inline void wr(int fd, uint64_t off, uint64_t v, size_t n)
{
	CHECK(pwrite(fd, &v, n, off) == (ssize_t)n, "pwrite %#llx", (unsigned long long)off);
}

/* A shared page for DMA whose first 256 bytes are `i * mul + add`. */
static inline unsigned char *dma_buffer(long page, int mul, int add)
{
	unsigned char *buf = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED, "mmap");
	for (int i = 0; i < 256; i++)
		buf[i] = (unsigned char)(i * mul + add);
	return buf;
}

#endif
