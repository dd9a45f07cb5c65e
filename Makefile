# tunnelgate — build, test, run, install.
# `make SAN=1` builds the ASan+UBSan variant into build-asan/.

PREFIX	?= /usr/local
DESTDIR	?=
SAN	?= 0
CC	?= cc
PKGS	 = openssl libconfig libseccomp pam ldap zlib

ifeq ($(SAN),1)
BUILD	?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# pam_unix dlopens libcrypt after start-up, too late for ASan to resolve its
# crypt_r interceptor; linking it up front avoids a NULL call.
SANLIBS	 = -Wl,--no-as-needed -lcrypt -Wl,--as-needed
else
BUILD	?= build
SANFLAGS =
endif

CFLAGS	?= -O2 -g
CFLAGS	+= -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wconversion \
	   -Wno-sign-conversion -Wstrict-prototypes -Wmissing-prototypes \
	   -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE $(SANFLAGS)
LDFLAGS	+= -pie -Wl,-z,relro,-z,now $(SANFLAGS)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# src/ has one folder per process role (master, gate, relay, key), one for the
# event loop both unprivileged workers run (worker) and one for code linked
# into several roles (common); headers are found by name from any of them.
SRC_DIRS := src/master src/gate src/relay src/worker src/key src/metrics src/common
SRC_INC  := $(SRC_DIRS:%=-I%)
CPPFLAGS += $(SRC_INC) -Iauth -Ipolicy $(PKG_CFLAGS) \
	    -DTG_DEFAULT_CONFIG=\"$(PREFIX)/etc/tunnelgate/tunnelgated.conf\"

DAEMON_SRCS := $(filter-out src/master/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c))) \
	       $(wildcard auth/*.c) $(wildcard policy/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINS  := $(BUILD)/tunnelgate-bench

.SECONDARY:
.PHONY: all deps test unit-test integration-test fuzz fuzz-smoke run install clean asan bench \
	users

all: $(BUILD)/tunnelgated $(BUILD)/tunnelgatectl $(UNIT_BINS) $(BENCH_BINS)

deps:
	@sh etc/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtgd.a: $(DAEMON_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tunnelgated: $(BUILD)/src/master/main.o $(BUILD)/libtgd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SANLIBS)

# tunnelgatectl, the admin's tool: runs as the admin, reuses the daemon's
# config and policy parsers from libtgd.a.
CTL_SRCS := $(wildcard src/tunnelgatectl/*.c)
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/%.o)
$(CTL_OBJS): CPPFLAGS += -Isrc/tunnelgatectl
$(BUILD)/src/tunnelgatectl/tunnelgatectl.o $(BUILD)/src/master/main.o: CPPFLAGS += \
	-DTG_VERSION_STRING=\"$(shell awk -F'"' '/define TG_VERSION/ { print $$2 }' src/client/include/tunnelgate.h)\"
$(BUILD)/tunnelgatectl: $(CTL_OBJS) $(BUILD)/libtgd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SANLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libtgd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

# Looks at what buf.c hands to free() before it is freed (see the test).
$(BUILD)/tests/test_buf_wipe: LDFLAGS += -Wl,--wrap=free
# Makes proc.c's close_range() fail on demand (see the test).
$(BUILD)/tests/test_proc_close: LDFLAGS += -Wl,--wrap=close_range

BENCH_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/bench/*.c))
$(BUILD)/tunnelgate-bench: $(BENCH_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

asan:
	$(MAKE) SAN=1 all

unit-test: all
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The suite runs in its own mount and network namespaces: test users are
# bind-mounted over /etc/passwd only there, and loopback is private.
# LeakSanitizer cannot run in chrooted workers (no /proc); leaks are checked
# with valgrind instead (tests/integration/test_valgrind.py).
integration-test: all
	ASAN_OPTIONS=detect_leaks=0 TG_BUILD=$(abspath $(BUILD)) unshare --mount --net --propagation private \
	    /usr/bin/python3 -m pytest -q tests/integration

# Everything CI runs: the unit tests of the normal and the ASan+UBSan
# build, the integration suite of both side by side, then a short run of
# every fuzz target.
test: deps
	$(MAKE) -j2 all
	$(MAKE) -j2 SAN=1 all
	$(MAKE) unit-test
	$(MAKE) SAN=1 unit-test
	sh tests/integration/run-pair.sh "$(MAKE)"
	$(MAKE) -j2 fuzz-smoke

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_LIB_SRCS := src/common/buf.c src/common/netaddr.c src/gate/http_request.c src/gate/proxy_proto.c src/common/log.c $(wildcard policy/*.c) \
		 auth/auth_proto.c src/common/msg.c src/common/ipc.c \
		 auth/auth_cert_chain.c src/key/key_proto.c src/key/key_sign.c \
		 src/common/tls_error.c \
		 src/master/audit_chain.c src/common/audit_read.c src/common/audit_parse.c \
		 src/common/utf8.c \
		 src/metrics/metrics_http.c

FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=build-fuzz/obj/%.o)
FUZZ_HDRS := $(wildcard tests/fuzz/*.h) $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.h)) \
	     $(wildcard policy/*.h auth/*.h src/client/*.h)
FUZZ_CFLAGS := -g -O1 -std=c17 -D_GNU_SOURCE $(SRC_INC) -Iauth -Ipolicy -Isrc/client/include \
	       $(PKG_CFLAGS)

# The code under test is compiled once for all targets, instrumented as
# -fsanitize=fuzzer would, without libFuzzer's main (fuzzer-no-link).
build-fuzz/obj/%.o: %.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS) $(FUZZ_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -o $@ $< $(FUZZ_LIB_OBJS) $(PKG_LIBS)

fuzz: $(FUZZ_BINS)

# A crash fails the target; its log stays in build-fuzz/ for reading. One
# make target per fuzzer, so `make -j2 fuzz-smoke` runs two at a time.
# Seconds per target: each starts from its seed corpus, and the slowest
# target still runs thousands of inputs in this time.
FUZZ_SECONDS ?= 10
FUZZ_SMOKES := $(FUZZ_BINS:%=%.smoke)
.PHONY: $(FUZZ_SMOKES)
fuzz-smoke: $(FUZZ_SMOKES)
$(FUZZ_SMOKES): %.smoke: %
	@n=$$(basename $<); mkdir -p build-fuzz/corpus-$$n; \
	if ! $< -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus-$$n tests/fuzz/corpus/$$n >build-fuzz/$$n.log 2>&1; then \
	    echo "== $$n: FAILED"; tail -n 40 build-fuzz/$$n.log; exit 1; fi; \
	echo "== $$n ($(FUZZ_SECONDS) s): $$(grep -a "^Done" build-fuzz/$$n.log | tail -n 1)"

bench: all
	sh tests/bench/run.sh $(abspath $(BUILD))

# tunnelgated against Squid, one table (docs/performance.md).
bench-compare: all
	/usr/bin/python3 tests/bench/compare.py $(abspath $(BUILD))

# The system users of the unprivileged roles; their names are the
# defaults of privsep.gate_user, relay_user and key_user (src/master/config.h).
TG_USERS := $(shell awk -F'"' '/define TG_DEFAULT_(GATE|RELAY|KEY)_USER/ { print $$2 }' \
	    src/master/config.h)

users:
	sh etc/create-users.sh $(TG_USERS)

run: deps all users
	sh etc/quickstart.sh $(abspath $(BUILD))

# Example configuration goes to $(PREFIX)/etc/tunnelgate only where none exists.
# The worker users are created on this machine unless DESTDIR stages the
# files for a package, whose installation then creates them.
ETCDIR	 = $(DESTDIR)$(PREFIX)/etc/tunnelgate
install: $(BUILD)/tunnelgated $(BUILD)/tunnelgatectl
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/tunnelgate \
	    $(ETCDIR)/pam.d
	install -m 755 $(BUILD)/tunnelgated $(BUILD)/tunnelgatectl $(DESTDIR)$(PREFIX)/sbin/
	install -m 644 docs/tunnelgated.conf.5 docs/tunnelgate-policy.5 \
	    $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 docs/tunnelgated.8 docs/tunnelgatectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 docs/*.md etc/tunnelgated.service etc/tunnelgated.logrotate \
	    $(DESTDIR)$(PREFIX)/share/doc/tunnelgate/
	for f in tunnelgated.conf policy.conf pam.d/tunnelgate; do \
	    [ -e $(ETCDIR)/$$f ] || install -m 640 etc/$$f $(ETCDIR)/$$f; done
	install -m 755 etc/create-users.sh \
	    $(DESTDIR)$(PREFIX)/share/doc/tunnelgate/
	if [ -z "$(DESTDIR)" ]; then sh etc/create-users.sh $(TG_USERS); fi

# ---------------------------------------------------------------------------
# Client: the tunnelgate command, libtunnelgate (static, shared, pkg-config)
# and the streaming example. Library objects are PIC with hidden visibility:
# only the API in src/client/include/tunnelgate.h is exported.
CLIENT_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/client/libtg_*.c))
CLIENT_CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/client/cli_*.c))
CLIENT_LIBS	:= $(shell pkg-config --libs openssl 2>/dev/null)
CLIENT_VERSION	:= $(shell awk -F'"' '/define TG_VERSION/ { print $$2 }' \
		     src/client/include/tunnelgate.h)
CLIENT_SONAME	 = libtunnelgate.so.1
CLIENT_BINS	 = $(BUILD)/tunnelgate $(BUILD)/libtunnelgate.a \
		   $(BUILD)/libtunnelgate.so $(BUILD)/tunnelgate.pc \
		   $(BUILD)/tunnelgate-frames

all: $(CLIENT_BINS)

$(BUILD)/src/client/%.o: CPPFLAGS += -Isrc/client/include
$(BUILD)/tests/unit/test_client_%.o: CPPFLAGS += -Isrc/client/include -Isrc/client
$(CLIENT_LIB_OBJS): CFLAGS += -fPIC -fvisibility=hidden

$(BUILD)/libtunnelgate.a: $(CLIENT_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/$(CLIENT_SONAME): $(CLIENT_LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(CLIENT_SONAME) -Wl,-z,relro,-z,now \
	    $(SANFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/libtunnelgate.so: $(BUILD)/$(CLIENT_SONAME)
	ln -sf $(CLIENT_SONAME) $@

$(BUILD)/tunnelgate.pc: src/client/tunnelgate.pc.in src/client/include/tunnelgate.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(CLIENT_VERSION)|' $< > $@

$(BUILD)/tunnelgate: $(BUILD)/src/client/tunnelgate.o $(CLIENT_CLI_OBJS) \
		     $(BUILD)/libtunnelgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/tunnelgate-frames: $(BUILD)/src/client/examples/frames.o \
			    $(BUILD)/libtunnelgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/tests/test_client_%: $(BUILD)/tests/unit/test_client_%.o \
			      $(CLIENT_CLI_OBJS) $(BUILD)/libtunnelgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) -lcmocka

# Added latency per small message, client and gateway, against a direct
# connection in the same run (p50, p99).
bench-client: $(BUILD)/tunnelgated $(BUILD)/tunnelgate
	/usr/bin/python3 tests/bench/client_latency.py $(abspath $(BUILD))

.PHONY: install-client bench-client bench-compare
install: install-client
install-client: $(CLIENT_BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/tunnelgate $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libtunnelgate.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/$(CLIENT_SONAME) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(CLIENT_SONAME) $(DESTDIR)$(PREFIX)/lib/libtunnelgate.so
	install -m 644 src/client/include/tunnelgate.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/tunnelgate.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 docs/tunnelgate.1 $(DESTDIR)$(PREFIX)/share/man/man1/

-include $(CLIENT_LIB_OBJS:.o=.d) $(CLIENT_CLI_OBJS:.o=.d) \
	 $(BUILD)/src/client/tunnelgate.d $(BUILD)/src/client/examples/frames.d
# ---------------------------------------------------------------------------

clean:
	rm -rf build build-asan build-fuzz

-include $(DAEMON_OBJS:.o=.d) $(CTL_OBJS:.o=.d) $(BUILD)/src/master/main.d $(UNIT_SRCS:%.c=$(BUILD)/%.d) \
	 $(BENCH_OBJS:.o=.d)
