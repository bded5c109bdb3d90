# llmfork — build, run, test, bench.
#
#   make              build/llmfork (the server), build/llmfork-test (the same
#                     plus test-only handlers), build/llmfork-mock (mock model)
#   make SAN=1        the same with ASan+UBSan, under build/san/
#   make run          chat app on http://127.0.0.1:8000 with the mock model
#   make test         unit tests (cmocka) then system tests (pytest)
#   make bench        benchmarks against the peers (scripts/bench)
#   make fuzz         the libFuzzer targets of tests/fuzz/ (clang, ASan+UBSan,
#                     under build/fuzz/), each run FUZZ_SECONDS (60)
#   make check        the build with more warnings (build/check), cppcheck,
#                     clang-tidy (.clang-tidy)

CC      ?= gcc
PKGS    := libevent libcurl libcjson inih openssl zlib libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(PKG_CFLAGS)
# Where the web page lives when run from the source tree (static_dir).
CFLAGS  += -DLLMFORK_WWW_DIR='"$(CURDIR)/worker/www"'
# More warnings on top (make check sets them).
CFLAGS  += $(XCFLAGS)
LDLIBS  += $(PKG_LIBS) -lm

ifeq ($(SAN),1)
B       := build/san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(FUZZ),1)
# Set by `make fuzz`: the same objects built by clang for libFuzzer.
B       := build/fuzz
CC      := clang
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B       := build
endif

# Sources are found by folder: every .c under common/, worker/ and master/
# is built into the library (worker/apps/testhooks.c and master/main.c
# aside).
srcs_in      = $(shell find $(1) -name '*.c' | sort)
SRCS_COMMON := $(call srcs_in,common)
SRCS_WORKER := $(filter-out worker/apps/testhooks.c,$(call srcs_in,worker))
SRCS_MASTER := $(filter-out master/main.c,$(call srcs_in,master))
LIB_OBJS    := $(patsubst %.c,$(B)/obj/%.o,$(SRCS_COMMON) $(SRCS_WORKER) $(SRCS_MASTER))
MAIN_OBJ    := $(B)/obj/master/main.o
HOOKS_OBJ   := $(B)/obj/worker/apps/testhooks.o
LIB         := $(B)/libllmfork.a

# tests/unit mirrors the tree: tests/unit/worker/server/test_http_parse.c
# tests worker/server/http_parse.c.
UNIT_SRCS   := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
# Shared test helpers (tests/unit/support/), linked into every unit test.
SUPPORT_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/unit/support/*.c))
.SECONDARY: $(SUPPORT_OBJS)  # kept: only the pattern rule names them
MOCK_SRCS   := $(wildcard tests/mock/*.c)
MOCK_OBJS   := $(patsubst %.c,$(B)/obj/%.o,$(MOCK_SRCS))

PYTEST      := /usr/bin/python3 -m pytest
DEPS_STAMP  := build/.deps-ok

.PHONY: all run test unit units system clients bench screenshot deps clean fuzz fuzz-build check
all: $(B)/llmfork $(B)/llmfork-test $(B)/llmfork-mock

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/llmfork: $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

# The test build: the same server plus worker/apps/testhooks.c (handlers that
# block the loop or stream slowly). The shipped binary never links it.
$(B)/llmfork-test: $(MAIN_OBJ) $(HOOKS_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(HOOKS_OBJ) $(LIB) $(LDLIBS)

$(B)/llmfork-mock: $(MOCK_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MOCK_OBJS) $(LIB) $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(SUPPORT_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SUPPORT_OBJS) $(LIB) $(LDLIBS) -lcmocka

# Installs what is missing (apt, npm); a no-op when all is present.
deps:
	@scripts/install-deps

$(DEPS_STAMP): scripts/install-deps $(wildcard tests/clients/package-lock.json)
	@scripts/install-deps
	@mkdir -p build && touch $@

run: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory $(B)/llmfork
	exec $(B)/llmfork -c etc/llmfork.conf -b 127.0.0.1:8000

units: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

system: all
	LLMFORK_BUILD=$(B) $(PYTEST) -q tests/system tests/bench

# The real clients people use: the openai SDK, ai-chat-protocol, Chromium.
clients: all
	@if [ -f tests/clients/package.json ]; then \
	  cd tests/clients && LLMFORK_BUILD=$(CURDIR)/$(B) node --test --test-concurrency=1; \
	else echo "clients: no tests/clients/package.json yet"; fi

test: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory system
	@$(MAKE) --no-print-directory clients

bench: $(DEPS_STAMP) all $(B)/llmfork-load
	scripts/bench/run $(if $(QUICK),--quick)

# make check: everything (server, test build, mock, load tool, unit tests)
# built with the warnings below on top of -Wall -Wextra -Werror, into
# build/check; then cppcheck and clang-tidy over the tree, each failing on
# any finding. cppcheck reads no system header (scripts/check/cppcheck.h
# names the loop macros it would miss); varFuncNullUB is off because
# glibc's NULL is ((void *)0), a fine sentinel for a variadic call.
CHECK_WARN := -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
              -Wundef -Wvla
CHECK_DIRS := common master worker tests
TIDY_ARGS  := $(addprefix --extra-arg=,-std=gnu11 -D_GNU_SOURCE -I. $(PKG_CFLAGS))
check: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory B=build/check XCFLAGS="$(CHECK_WARN)" \
	  build/check/llmfork build/check/llmfork-test build/check/llmfork-mock \
	  build/check/llmfork-load units
	cppcheck -q -j2 --std=c11 --enable=warning,portability --inline-suppr \
	  --suppress=varFuncNullUB --error-exitcode=1 -I. -D_GNU_SOURCE \
	  --include=scripts/check/cppcheck.h $(CHECK_DIRS)
	find $(CHECK_DIRS) -name '*.c' | sort | xargs -P2 -n1 \
	  sh -c 'exec clang-tidy --quiet $(TIDY_ARGS) "$$@" -- 2>/dev/null' sh
	@echo "check: clean"

# docs/chat.png, the picture in the README.
screenshot: all
	cd tests/clients && LLMFORK_BUILD=$(CURDIR)/$(B) node screenshot.mjs $(CURDIR)/docs/chat.png

# tests/fuzz/fuzz_NAME.c is a target; tests/fuzz/corpus/NAME/ its seeds
# (kept as they are: what a run finds goes to build/fuzz/corpus/NAME/, a
# crash to build/fuzz/crash-NAME-*). Any crash or failed check stops it.
FUZZ_SECONDS ?= 60
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(addprefix build/fuzz/fuzz_,$(FUZZ_NAMES))
FUZZ_SUPPORT := build/fuzz/obj/tests/unit/support/delta_oracle.o

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_SUPPORT) $(LIB)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_SUPPORT) $(LIB) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@set -e; for t in $(FUZZ_NAMES); do \
	  echo "== fuzz_$$t ($(FUZZ_SECONDS) s)"; mkdir -p build/fuzz/corpus/$$t; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log || \
	    { tail -50 build/fuzz/$$t.log; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec)|cov:' \
	    build/fuzz/$$t.log | tail -3; \
	done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# The benchmark's load generator (tests/bench/load.c), built by make bench.
$(B)/llmfork-load: tests/bench/load.c tests/bench/resp.c tests/bench/resp.h
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
