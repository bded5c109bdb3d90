/*
 * evmem — libevent's allocator, with a free list for its buffer chains.
 *
 * Each upstream read is written to the client at once (http_flush_held),
 * so every read takes a fresh 1 KiB evbuffer chain and the write gives it
 * back. glibc's per-thread cache holds 7 blocks of a size; past them a
 * 1 KiB block goes through the bins: ~420 instructions per chain malloc,
 * 8 per /v1 stream (callgrind). A bounded stack of such blocks serves
 * them with a pop and takes them back with a push.
 *
 * Ownership: the stack owns the blocks it holds (at most EVMEM_KEEP,
 * reachable from a static array, freed by nothing: the process owns
 * them until it exits). Not thread-safe: llmfork's processes are single
 * threads. evmem_install() must run before libevent allocates anything.
 */
#ifndef LLMFORK_EVMEM_H
#define LLMFORK_EVMEM_H

#define EVMEM_KEEP 128

/* Sets libevent's memory functions (event_set_mem_functions). */
void evmem_install(void);

#endif
