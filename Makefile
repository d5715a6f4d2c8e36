# llmshim — see README.md. `make` builds build/libllmshim.so; `make check` installs what the
# tests need (Debian packages), builds and runs every test; `make demo` shows a MISS then a HIT.

CC      ?= gcc
BUILD   := build
PREFIX  ?= /usr/local

WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
BASE    := -std=c11 -D_GNU_SOURCE -DJSMN_STRICT -Isrc $(WARN) $(EXTRA_CFLAGS)
# The shim lives in other people's processes: export only the hooks, keep libc the only NEEDED.
SHIM_CFLAGS  := $(BASE) $(CFLAGS) -fPIC -fvisibility=hidden
SHIM_LDFLAGS := -shared -Wl,-z,defs -Wl,--exclude-libs,ALL -Wl,--as-needed
SHIM_LIBS    := -Wl,-Bstatic -lhiredis -lbearssl -lz -Wl,-Bdynamic

CORE_SRC  := src/buf.c src/json.c src/canon.c src/endpoint.c src/config.c src/call.c src/entry.c src/entry_memo.c src/log.c src/stats.c src/stream.c src/eventstream.c src/multipart.c src/usage.c src/redis_url.c src/forksafe.c \
             src/jsondiff.c src/nearest.c src/jsonfmt.c
STORE_SRC := src/store_memory.c src/store_file.c src/store_file_dir.c src/store_redis.c src/store_redis_io.c src/store_tier.c \
             src/redis_node.c src/redis_cluster.c src/redis_sentinel.c src/redis_tls.c src/redis_tls_conf.c
CORE_SRC  += src/config_file.c
HOOK_SRC  := src/cache.c src/replay_miss.c src/hook_real.c src/hook_handle.c src/hook_easy.c src/hook_transfer.c src/hook_options.c src/hook_upload.c src/hook_mime.c src/hook_mimekey.c src/hook_precall.c src/hook_control.c src/hook_multi.c src/hook_dlopen.c src/hook_replay.c src/hook_record.c src/hook_info.c src/hook_coding.c
SHIM_SRC  := $(CORE_SRC) $(STORE_SRC) $(HOOK_SRC)
SHIM_OBJ  := $(SHIM_SRC:src/%.c=$(BUILD)/obj/%.o)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
EXAMPLES  := $(BUILD)/examples/chat
# C clients for the e2e tests (tests/e2e/clients/*.c): threads, fork.
CLIENTS   := $(patsubst tests/e2e/clients/%.c,$(BUILD)/clients/%,$(wildcard tests/e2e/clients/*.c))

.PHONY: all deps demo-deps check check-unit check-e2e check-fresh demo clean install uninstall bench bench-smoke bench-deps
all: $(BUILD)/libllmshim.so

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(SHIM_CFLAGS) -c -o $@ $<

$(BUILD)/libllmshim.so: $(SHIM_OBJ)
	$(CC) $(SHIM_LDFLAGS) -o $@ $^ $(SHIM_LIBS)

$(BUILD)/obj $(BUILD)/tests $(BUILD)/examples:
	mkdir -p $@

# Unit tests link the pure core and the stores directly (no preload involved), and the parts of
# the hook layer that only need libcurl's header: the option table and the option mirror.
UNIT_HOOK := src/hook_options.c src/hook_handle.c src/hook_info.c
$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_SRC) $(STORE_SRC) $(UNIT_HOOK) $(wildcard src/*.h tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(BASE) $(CFLAGS) -o $@ $< $(CORE_SRC) $(STORE_SRC) $(UNIT_HOOK) -lcmocka -lhiredis -lbearssl -lpthread

$(BUILD)/examples/%: examples/%.c | $(BUILD)/examples
	$(CC) $(BASE) $(CFLAGS) -o $@ $< -lcurl

$(BUILD)/clients/%: tests/e2e/clients/%.c $(wildcard tests/e2e/clients/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -o $@ $< -lcurl -lpthread

# The command (tools/llmshim.c + tools/cmd_*.c) links the core and the stores like the unit
# tests; hiredis only when the Redis store is built in.
TOOL_SRC   := $(wildcard tools/*.c) $(BUILD)/gen/prices.c
TOOL_REDIS  = $(filter src/store_redis.c,$(STORE_SRC))
all: $(BUILD)/llmshim
# The price table (tools/prices.tsv) built into the command as one string.
$(BUILD)/gen/prices.c: tools/prices.tsv
	@mkdir -p $(@D)
	{ echo 'extern const char prices_builtin[];'; echo 'const char prices_builtin[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; echo ';'; } >$@.tmp && mv $@.tmp $@
$(BUILD)/llmshim: $(TOOL_SRC) $(wildcard tools/*.h) $(CORE_SRC) $(STORE_SRC) $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(BASE) $(CFLAGS) -Itools $(if $(TOOL_REDIS),-DLLMSHIM_HAVE_REDIS) -o $@ $(TOOL_SRC) $(CORE_SRC) $(STORE_SRC) \
	    $(if $(TOOL_REDIS),$(shell pkg-config --libs hiredis)) -lbearssl -lpthread

# Debian packages, installed only when missing. `make demo` needs the build and the demo's
# peers (DEMO_PKGS); `make check` adds the test tools and clients (TEST_PKGS). gcc is installed
# without recommends, so libc6-dev (stdio.h, crt1.o) must be named.
DEMO_PKGS := gcc libc6-dev make pkg-config libcurl4-openssl-dev libhiredis-dev libjsmn-dev libbearssl-dev zlib1g-dev \
             curl python3
TEST_PKGS := libcmocka-dev faketime redis-server redis-sentinel nutcracker openssl procps time \
             php-cli php-curl php-guzzlehttp-guzzle python3-pycurl python3-seccomp r-cran-curl ruby-ethon tclcurl \
             php-symfony-http-client nghttp2-proxy libwww-curl-perl emacs-nox elpa-plz neovim
DEB_PKGS  := $(DEMO_PKGS) $(TEST_PKGS)
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	    { echo "make deps: could not install: $$missing (run as root or with sudo)"; exit 1; }; \
	fi
demo-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEMO_PKGS)"

# The verdict line "check: N passed, N failed" is the last line: the fuzz smoke and the bench
# smoke (its table goes to build/bench-smoke/table.txt) run first.
check: deps
	$(MAKE) all $(UNIT_BIN) $(EXAMPLES) $(CLIENTS) $(TORTURE_BIN)
	@$(MAKE) --no-print-directory fuzz-smoke
	@mkdir -p $(BUILD)/bench-smoke
	@if $(MAKE) --no-print-directory bench-smoke >$(BUILD)/bench-smoke/table.txt 2>&1; then \
	  echo "PASS bench-smoke (table: $(BUILD)/bench-smoke/table.txt)"; \
	else tail -30 $(BUILD)/bench-smoke/table.txt; echo "FAIL bench-smoke (log: $(BUILD)/bench-smoke/table.txt)"; exit 1; fi
	@tests/run.sh $(UNIT_BIN)

# Benchmarks (tests/bench/README.md): the floor and the entry generator link the core like the
# unit tests; the peer (nginx), the chart (gnuplot) and hyperfine are needed by the bench only.
BENCH_PKGS := nginx-light gnuplot-nox hyperfine
BENCH_BIN  := $(BUILD)/bench/client $(BUILD)/bench/floor $(BUILD)/bench/gen $(BUILD)/bench/empty.so
bench-deps: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"
$(BUILD)/bench/client: tests/bench/client.c tests/bench/bench.h
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -o $@ $< -lcurl
$(BUILD)/bench/empty.so: tests/bench/empty.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -fPIC -shared -o $@ $<
$(BUILD)/bench/%: tests/bench/%.c tests/bench/bench.h $(CORE_SRC) $(STORE_SRC) $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -Itests/bench -o $@ $< $(CORE_SRC) $(STORE_SRC) -lhiredis -lbearssl -lpthread
bench: bench-deps
	$(MAKE) all $(BENCH_BIN)
	@tests/bench/run.sh
# CI: tiny N, proves the bench still runs and prints its table; never judges timings.
bench-smoke: bench-deps
	$(MAKE) all $(BENCH_BIN)
	@BENCH_SMOKE=1 tests/bench/run.sh

# ---- hardening (README.md, "Failure behaviour") -------------------------------------------------
# libFuzzer targets over the pure core (tests/fuzz/). clang and its runtime are needed by these
# only: `make fuzz-smoke` (part of check) says SKIPPED when they cannot be installed.
FUZZ_PKGS    := clang libclang-rt-14-dev llvm
FUZZ_CC      ?= clang
FUZZ_TARGETS := fuzz_canon fuzz_entry fuzz_stream fuzz_url fuzz_config fuzz_redis_url fuzz_multipart
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_SRC     := src/buf.c src/json.c src/canon.c src/entry.c src/jsonfmt.c src/stream.c src/eventstream.c src/multipart.c src/usage.c src/endpoint.c \
                src/config.c src/config_file.c src/redis_url.c
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -DJSMN_STRICT -Isrc $(WARN) -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 600
.PHONY: fuzz fuzz-smoke fuzz-deps
fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FUZZ_PKGS)"
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRC) $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRC) -lbearssl -lpthread
# Each target for FUZZ_SECONDS (make -j2 fuzz: two at a time); crashers land in build/fuzz/.
fuzz: fuzz-deps
	$(MAKE) $(FUZZ_BIN)
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=fuzz-run-%)
fuzz-run-%: $(BUILD)/fuzz/%
	@tests/fuzz/run.sh $* $(FUZZ_SECONDS)
# Every seed and regression input once, through every target.
fuzz-smoke:
	@tests/fuzz/smoke.sh $(FUZZ_TARGETS)

# Allocation failure: a test-only shim whose own allocations can be made to fail one at a time
# (tests/torture/torture.h, LLMSHIM_TORTURE_FAIL_AT=N); driven by tests/e2e/test_faults.sh.
TORTURE_BUILD := build-torture
TORTURE_LIB   := $(TORTURE_BUILD)/libllmshim.so
$(TORTURE_BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) tests/torture/torture.h
	@mkdir -p $(@D)
	$(CC) $(SHIM_CFLAGS) -include tests/torture/torture.h -c -o $@ $<
$(TORTURE_BUILD)/obj/torture.o: tests/torture/torture.c
	@mkdir -p $(@D)
	$(CC) $(SHIM_CFLAGS) -c -o $@ $<
$(TORTURE_LIB): $(SHIM_SRC:src/%.c=$(TORTURE_BUILD)/obj/%.o) $(TORTURE_BUILD)/obj/torture.o
	$(CC) $(SHIM_LDFLAGS) -o $@ $^ $(SHIM_LIBS)
# killat.so: preloaded beside the shim, kills the app in the middle of a store (test_faults.sh)
$(TORTURE_BUILD)/killat.so: tests/torture/killat.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -shared -fPIC -o $@ $< -ldl
TORTURE_BIN   := $(TORTURE_LIB) $(TORTURE_BUILD)/killat.so

# ASan+UBSan: the shim (with the torture hooks, inert unless asked), the unit tests and C clients
# built with the sanitizers. The real curl tool cannot take part: preloading libasan into a
# program built without it deadlocks at startup (glibc's setlocale lock), so tests/asan/ drives
# the sanitized shim through sanitized clients instead.
ASAN_BUILD   := build-asan
ASAN_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_UNIT    := $(UNIT_SRC:tests/unit/%.c=$(ASAN_BUILD)/tests/%)
ASAN_CLIENTS := $(ASAN_BUILD)/clients/chat $(patsubst %.c,$(ASAN_BUILD)/clients/%,$(notdir \
                $(wildcard tests/asan/*.c tests/e2e/clients/*.c)))
.PHONY: check-asan check-valgrind
$(ASAN_BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) tests/torture/torture.h
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN_FLAGS) -fPIC -fvisibility=hidden -include tests/torture/torture.h -c -o $@ $<
$(ASAN_BUILD)/obj/torture.o: tests/torture/torture.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN_FLAGS) -fPIC -fvisibility=hidden -c -o $@ $<
$(ASAN_BUILD)/libllmshim.so: $(SHIM_SRC:src/%.c=$(ASAN_BUILD)/obj/%.o) $(ASAN_BUILD)/obj/torture.o
	$(CC) $(SHIM_LDFLAGS) -fsanitize=address,undefined -o $@ $^ $(SHIM_LIBS)
$(ASAN_BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_SRC) $(STORE_SRC) $(UNIT_HOOK) $(wildcard src/*.h tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN_FLAGS) -o $@ $< $(CORE_SRC) $(STORE_SRC) $(UNIT_HOOK) -lcmocka -lhiredis -lbearssl -lpthread
$(ASAN_BUILD)/clients/chat: examples/chat.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN_FLAGS) -o $@ $< -lcurl
$(ASAN_BUILD)/clients/%: tests/asan/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN_FLAGS) -o $@ $< -lcurl -lpthread
$(ASAN_BUILD)/clients/%: tests/e2e/clients/%.c $(wildcard tests/e2e/clients/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN_FLAGS) -o $@ $< -lcurl -lpthread
check-asan: deps
	$(MAKE) all $(ASAN_BUILD)/libllmshim.so $(ASAN_UNIT) $(ASAN_CLIENTS)
	@tests/asan/run.sh $(ASAN_UNIT)

# ThreadSanitizer: the shim and the threaded, forking and event-loop C clients built with TSan
# (build-tsan/), the clients running the shim preloaded (tests/tsan/).
TSAN_BUILD   := build-tsan
TSAN_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
TSAN_CLIENTS := $(TSAN_BUILD)/clients/threads $(TSAN_BUILD)/clients/fork $(TSAN_BUILD)/clients/socket_action \
                $(TSAN_BUILD)/clients/reentry
.PHONY: check-tsan
# dlsym is called by the TSan runtime while it initializes, before it can trace a function:
# llmshim's dlsym and what it calls stay uninstrumented, and -O2 keeps its call to the real
# dlsym a jump (the caller glibc sees must be the program, for RTLD_NEXT).
$(TSAN_BUILD)/obj/hook_dlopen.o $(TSAN_BUILD)/obj/hook_real.o: TSAN_FLAGS := -O2 -g
$(TSAN_BUILD)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(TSAN_FLAGS) -fPIC -fvisibility=hidden -c -o $@ $<
$(TSAN_BUILD)/libllmshim.so: $(SHIM_SRC:src/%.c=$(TSAN_BUILD)/obj/%.o)
	$(CC) $(SHIM_LDFLAGS) -fsanitize=thread -o $@ $^ $(SHIM_LIBS)
$(TSAN_BUILD)/clients/%: tests/e2e/clients/%.c $(wildcard tests/e2e/clients/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(TSAN_FLAGS) -o $@ $< -lcurl -lpthread
check-tsan: deps
	$(MAKE) all $(TSAN_BUILD)/libllmshim.so $(TSAN_CLIENTS)
	@tests/tsan/run.sh

# The README's two commands on a fresh Debian 12 root made by debootstrap (tests/fresh/run.sh):
# root needed; the root is cached in build/fresh/, the installs and the clone are fresh each run.
FRESH_PKGS := debootstrap
check-fresh:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FRESH_PKGS)"
	@tests/fresh/run.sh

# The real curl tool under the normal shim through valgrind memcheck (tests/valgrind/).
check-valgrind: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS=valgrind
	$(MAKE) all
	@tests/valgrind/run.sh

demo: demo-deps
	$(MAKE) all
	@tools/demo.sh

INSTALLED := lib/libllmshim.so bin/llmshim share/man/man1/llmshim.1
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/libllmshim.so $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(BUILD)/llmshim $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 tools/llmshim.1 $(DESTDIR)$(PREFIX)/share/man/man1/

# What install put there, and nothing else (caches and cassettes are the user's).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))

clean:
	rm -rf $(BUILD) $(TORTURE_BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
