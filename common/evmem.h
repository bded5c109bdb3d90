/*
 * evmem — libevent's allocator, with free lists for its buffer chains.
 *
 * Each upstream read is written to the client at once (http_flush_held),
 * so every read takes fresh evbuffer chains (1 KiB, 2 KiB when a read
 * carries more than one fits, 4 KiB) and the write gives them back.
 * glibc's per-thread cache holds 7 blocks of a size and none above 1 KiB;
 * past it a block goes through the bins: ~420 instructions for a 1 KiB
 * chain, ~660 for 2 KiB, 5-8 chains per /v1 stream (callgrind). Bounded
 * stacks of such blocks serve them with a pop and take them back with a
 * push.
 *
 * Ownership: the stacks own the blocks they hold (at most EVMEM_KEEP of
 * each size, 448 KiB in all; reachable from a static array and freed by
 * nothing: the process owns them until it exits). Not thread-safe:
 * llmfork's processes are single threads. evmem_install() must run
 * before libevent allocates anything.
 */
#ifndef LLMFORK_EVMEM_H
#define LLMFORK_EVMEM_H

#define EVMEM_KEEP 64

/* Sets libevent's memory functions (event_set_mem_functions). */
void evmem_install(void);

#endif
