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
SHIM_LIBS    := -Wl,-Bstatic -lhiredis -lbearssl -Wl,-Bdynamic

CORE_SRC  := src/buf.c src/json.c src/canon.c src/endpoint.c src/config.c src/call.c src/entry.c src/log.c src/stats.c src/stream.c src/usage.c src/redis_url.c src/forksafe.c
STORE_SRC := src/store_memory.c src/store_file.c src/store_redis.c src/store_tier.c
CORE_SRC  += src/config_file.c
HOOK_SRC  := src/cache.c src/hook_real.c src/hook_handle.c src/hook_easy.c src/hook_flow.c src/hook_multi.c src/hook_dlopen.c src/hook_replay.c src/hook_record.c
SHIM_SRC  := $(CORE_SRC) $(STORE_SRC) $(HOOK_SRC)
SHIM_OBJ  := $(SHIM_SRC:src/%.c=$(BUILD)/obj/%.o)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
EXAMPLES  := $(BUILD)/examples/chat
# C clients for the e2e tests (tests/e2e/clients/*.c): threads, fork.
CLIENTS   := $(patsubst tests/e2e/clients/%.c,$(BUILD)/clients/%,$(wildcard tests/e2e/clients/*.c))

.PHONY: all deps check check-unit check-e2e demo clean install
all: $(BUILD)/libllmshim.so

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(SHIM_CFLAGS) -c -o $@ $<

$(BUILD)/libllmshim.so: $(SHIM_OBJ)
	$(CC) $(SHIM_LDFLAGS) -o $@ $^ $(SHIM_LIBS)

$(BUILD)/obj $(BUILD)/tests $(BUILD)/examples:
	mkdir -p $@

# Unit tests link the pure core and the stores directly (no preload involved).
$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_SRC) $(STORE_SRC) $(wildcard src/*.h) | $(BUILD)/tests
	$(CC) $(BASE) $(CFLAGS) -o $@ $< $(CORE_SRC) $(STORE_SRC) -lcmocka -lhiredis -lbearssl -lpthread

$(BUILD)/examples/%: examples/%.c | $(BUILD)/examples
	$(CC) $(BASE) $(CFLAGS) -o $@ $< -lcurl

$(BUILD)/clients/%: tests/e2e/clients/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -o $@ $< -lcurl -lpthread

# The command (tools/llmshim.c + tools/cmd_*.c) links the core and the stores like the unit
# tests; hiredis only when the Redis store is built in.
TOOL_SRC   := $(wildcard tools/*.c)
TOOL_REDIS  = $(filter src/store_redis.c,$(STORE_SRC))
all: $(BUILD)/llmshim
$(BUILD)/llmshim: $(TOOL_SRC) $(wildcard tools/*.h) $(CORE_SRC) $(STORE_SRC) $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(BASE) $(CFLAGS) -Itools $(if $(TOOL_REDIS),-DLLMSHIM_HAVE_REDIS) -o $@ $(TOOL_SRC) $(CORE_SRC) $(STORE_SRC) \
	    $(if $(TOOL_REDIS),$(shell pkg-config --libs hiredis)) -lbearssl -lpthread

# Debian packages for building and testing; installed only when missing.
DEB_PKGS := gcc make libcurl4-openssl-dev libhiredis-dev libjsmn-dev libbearssl-dev libcmocka-dev \
            faketime redis-server nutcracker curl openssl python3 pkg-config \
            php-cli php-curl python3-pycurl r-cran-curl ruby-ethon
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	    { echo "make deps: could not install: $$missing (run as root or with sudo)"; exit 1; }; \
	fi

check: deps
	$(MAKE) all $(UNIT_BIN) $(EXAMPLES) $(CLIENTS)
	@tests/run.sh $(UNIT_BIN)

demo: deps
	$(MAKE) all
	@tools/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/libllmshim.so $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(BUILD)/llmshim $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 tools/llmshim.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf $(BUILD)
