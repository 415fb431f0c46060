/* SPDX-License-Identifier: MIT */
/*
 * dma_pool.h - the ports' DMA memory: a page allocator over one region reserved at link time.
 * The pool hands out whole 4 KiB pages, zeroed, naturally aligned up to 2 MiB, never crossing a
 * 4 GiB bus boundary (the regions sit below 4 GiB on x86 and within RAM on Arm). The bitmap keeps
 * it free-able, so a driver's detach and re-attach does not leak.
 */
#ifndef KEEL_PORT_DMA_POOL_H
#define KEEL_PORT_DMA_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <keel/hal.h>

#define PORT_DMA_PAGE      4096u
#define PORT_DMA_MAX_ALIGN 0x200000u

/** Largest pool the bitmap can track. */
#define PORT_DMA_POOL_MAX_BYTES (64u * 1024u * 1024u)

/** Take `size` bytes at CPU pointer `cpu` whose device address is `bus`. Boot time only. */
void port_dma_pool_init(void *cpu, keel_bus_addr_t bus, size_t size);

/** The HAL's dma_alloc / dma_free over the pool (contract in keel/hal.h). Any context. */
int port_dma_alloc(void *ctx, size_t size, size_t align, struct keel_dma_mem *out);
void port_dma_free(void *ctx, struct keel_dma_mem *mem);

/** Pages currently allocated (tests and examples check for leaks). */
size_t port_dma_pages_used(void);

/** True when [cpu, cpu+len) lies inside the pool (the pool's memory attributes differ on Arm). */
int port_dma_pool_contains(const void *cpu, size_t len);

#endif
