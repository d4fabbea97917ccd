# migratable: top-level build.
#
#   make                 build build/migratable and build/libmigratable.a
#   make check           build and run every test (unit + integration)
#   make check-sanitize  the same tests under AddressSanitizer + UBSan
#   make fuzz            build the libFuzzer targets (clang); fuzz/smoke.sh runs them
#   make demo            scan a demo process it starts, check it against CPU targets
#   make bench           run the benchmarks in bench/
#   make soundness       scan vs the int3 oracle on the workload corpus (docs/soundness.md)
#   make gain            compatible AWS types vs CRIU's policy (docs/gain.md; needs ../shared)
#   make gain-source     the same from other source CPUs, emulated (docs/gain.md)
#   make jit-bench       JIT engines: present, modelled and widened requirements (docs/jit.md)
#   make plugin          the CRIU restore guard plugin (BUILD/criu/migratable_guard.so)
#   make lab             CRIU restores in QEMU guests per CPU model vs our verdicts
#                        (docs/lab.md; LAB_ARGS=--quick: two models, two workloads)
#   make recall          study-like workloads vs real AWS migrations (docs/recall.md; needs ../shared)
#   make run-bench       the corpus under `migratable run` (aws, c4, c5a, m5, c6a): compatible types, slowdown (docs/run.md)
#   make install         install the binary, its catalogs (PREFIX=/usr/local, DESTDIR) and the
#                        plugin, when built, into CRIU's plugin directory (CRIU_PLUGIN_DIR=/usr/lib/criu)
#
# Plain GNU make on purpose: every source file under src/<stage>/ is picked
# up by wildcard, so adding a file to a pipeline stage needs no build edit.

BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
CXX      ?= c++
SAN      ?=

PKGS      := libelf libdw json-c glib-2.0 libprotobuf-c libxml-2.0 libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
# Debian 12 ships Zydis 4 without a pkg-config file (CMake config only).
ZYDIS_LIBS := -lZydis -lZycore

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
# -fPIC: libmigratable.a is also linked into the CRIU plugin (a shared object).
ALL_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -fPIC -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS)
LDLIBS   := $(PKG_LIBS) $(ZYDIS_LIBS) -lpthread -lm

ifeq ($(SAN),1)
  ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS    += -fsanitize=address,undefined
endif

LIB_SRC  := $(sort $(wildcard src/util/*.c src/features/*.c src/process/*.c \
                     src/analysis/*.c src/verdict/*.c src/restrict/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
PROTO    := $(sort $(wildcard src/process/criu/*.proto))
PROTO_C  := $(patsubst src/process/criu/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO))
PROTO_H  := $(PROTO_C:.c=.h)

LIB_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(PROTO_C:.c=.o)
CLI_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))
LIB      := $(BUILD)/libmigratable.a
BIN      := $(BUILD)/migratable

TEST_SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
TEST_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SUPPORT_SRC))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c tests/integration/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

# Workloads: small real programs the integration tests start and scan.
# Built without sanitizers (they are targets, not our code under test).
WL_LIB_C := $(sort $(wildcard tests/workloads/lib/*.c))
WL_LIBS  := $(patsubst tests/workloads/lib/%.c,$(BUILD)/workloads/lib%.so,$(WL_LIB_C))
WL_C     := $(sort $(wildcard tests/workloads/*.c))
WL_CXX   := $(sort $(wildcard tests/workloads/*.cc))
WL_BIN   := $(patsubst tests/workloads/%.c,$(BUILD)/workloads/%,$(WL_C)) \
            $(patsubst tests/workloads/%.cc,$(BUILD)/workloads/%,$(WL_CXX))
WL_CFLAGS := -O1 -g -fno-inline -fno-omit-frame-pointer -Wall -Wextra -Werror
# A workload names extra libraries in a '// LDLIBS: ...' line; libraries
# under tests/workloads/lib/ are found next to the workload ($ORIGIN).
WL_LDFLAGS = -L$(BUILD)/workloads -Wl,-rpath,'$$ORIGIN' -Wl,-z,lazy \
             $(shell sed -n 's|^// LDLIBS: ||p' $<) -lpthread -ldl
# The soundness corpus (test_oracle, test_soundness, test_criu): built once
# per build directory by its own script, never with sanitizers; the stamp
# (TU_CORPUS_STAMP in tests/support/testutil.h) says the build is complete.
CORPUS_DEPS  := tests/workloads/corpus/build.sh \
                $(sort $(wildcard tests/workloads/corpus/*.c tests/workloads/corpus/*.cc))
CORPUS_STAMP := $(BUILD)/workloads/corpus/.stamp
# Marker libraries (tests/workloads/wl_mark.h): one libwlplt.so and one
# libwlvcall.so per CPU feature, which wl_scan_targets loads as told.
MARK_DEPS  := tests/workloads/mark/build.sh tests/workloads/mark/wlvcall.cc \
              tests/workloads/lib/wlplt.c tests/workloads/wl_mark.h tests/workloads/wl_vcall.h
MARK_STAMP := $(BUILD)/workloads/mark/.stamp
WL_HDRS    := tests/workloads/wl_util.h tests/workloads/wl_mark.h tests/workloads/wl_vcall.h \
              tests/workloads/wl_leatable.h

# Study-like workloads (tests/workloads/study, docs/recall.md): built for
# `make recall` only, not by `make check`.  One source file gives the
# program study_NAME and, for the ones Python calls through ctypes,
# libstudy_NAME.so (-DSTUDY_LIB).  Libraries come from '// LDLIBS:' lines;
# OpenBLAS's headers and library from its pkg-config file.
STUDY_C    := $(sort $(wildcard tests/workloads/study/*.c))
STUDY_BIN  := $(patsubst tests/workloads/study/%.c,$(BUILD)/workloads/study/study_%,$(STUDY_C))
STUDY_LIBS := $(patsubst %,$(BUILD)/workloads/study/libstudy_%.so,pku rdseed rsa)
STUDY_FLAGS = $(WL_CFLAGS) $(shell pkg-config --cflags --libs-only-L openblas) \
              $(shell sed -n 's|^// LDLIBS: ||p' $<)

FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

# The CRIU plugin (src/criu-plugin/, docs/criu.md), built against CRIU's
# published criu-plugin.h: the system's (libcriu-dev), else the one in
# the CRIU test root (tests/criu/build-root.sh installs libcriu-dev
# there).  Without either it is not built and its tests skip.  Only the
# criu/ include directory is used, never the root's other headers.  A
# sanitizer build cannot be loaded into criu (ASan must come first):
# check-sanitize uses the plain build's plugin.
PLUGIN          := $(BUILD)/criu/migratable_guard.so
CRIU_PLUGIN_DIR ?= /usr/lib/criu
PLUGIN_LDFLAGS  := -shared -Wl,--as-needed -Wl,-rpath,'$$ORIGIN' \
                   -Wl,--version-script=src/criu-plugin/exports.map
ifeq ($(SAN),1)
  PLUGIN_FOR_TESTS :=
else
  PLUGIN_FOR_TESTS := plugin
endif

.PHONY: all check check-sanitize test-bins workloads study-workloads fuzz bench soundness gain gain-source jit-bench lab recall run-bench demo install clean plugin
.SECONDARY:

all: $(BIN)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: src/process/criu/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=src/process/criu --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c | $(PROTO_H)
	$(CC) $(filter-out -Werror,$(ALL_CFLAGS)) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Test support code includes "support/testutil.h" relative to tests/.
$(BUILD)/obj/tests/%.o: ALL_CFLAGS += -Itests

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(TEST_SUPPORT_OBJ) $(LIB) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $< \
	    $(TEST_SUPPORT_OBJ) $(LIB) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/workloads/lib%.so: tests/workloads/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WL_CFLAGS) -fPIC -shared -o $@ $<

$(BUILD)/workloads/%: tests/workloads/%.c $(WL_HDRS) $(WL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(WL_CFLAGS) -o $@ $< $(WL_LDFLAGS)

$(BUILD)/workloads/%: tests/workloads/%.cc $(WL_HDRS) $(WL_LIBS)
	@mkdir -p $(dir $@)
	$(CXX) $(WL_CFLAGS) -o $@ $< $(WL_LDFLAGS)

$(CORPUS_STAMP): $(CORPUS_DEPS)
	@rm -f $@
	tests/workloads/corpus/build.sh $(@D)
	@touch $@

$(MARK_STAMP): $(MARK_DEPS)
	@rm -f $@
	@mkdir -p $(@D)
	tests/workloads/mark/build.sh $(BUILD)/workloads
	@touch $@

$(BUILD)/workloads/study/study_%: tests/workloads/study/%.c tests/workloads/study/study.h
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(STUDY_FLAGS)

$(BUILD)/workloads/study/libstudy_%.so: tests/workloads/study/%.c tests/workloads/study/study.h
	@mkdir -p $(dir $@)
	$(CC) -DSTUDY_LIB -fPIC -shared -o $@ $< $(STUDY_FLAGS)

test-bins: $(BIN) $(TEST_BIN) $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP) $(MARK_STAMP) $(STUDY_BIN) $(STUDY_LIBS) $(PLUGIN_FOR_TESTS)
workloads: $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP) $(MARK_STAMP)
study-workloads: $(STUDY_BIN) $(STUDY_LIBS)

check: test-bins
	tests/run-tests.sh $(BUILD)

check-sanitize:
	$(MAKE) plugin
	MIGRATABLE_GUARD_PLUGIN=$(abspath build/criu/migratable_guard.so) $(MAKE) BUILD=build-san SAN=1 check

# Not a file target when no criu-plugin.h can be had: the recipe then
# says so and succeeds, and runs again next time (cheap: the root is cached).
plugin: $(LIB) $(PROTO_H)
	@mkdir -p $(BUILD)/criu/include
	@if [ -f /usr/include/criu/criu-plugin.h ]; then \
	    ln -sfn /usr/include/criu $(BUILD)/criu/include/criu; \
	elif root=$$(tests/criu/build-root.sh | tail -n 1) && \
	     [ -f "$$root/usr/include/criu/criu-plugin.h" ]; then \
	    ln -sfn "$$root/usr/include/criu" $(BUILD)/criu/include/criu; \
	else \
	    echo "migratable: no criu-plugin.h (install libcriu-dev): CRIU plugin not built" >&2; \
	    rm -f $(PLUGIN); exit 0; \
	fi; \
	if [ ! -f $(PLUGIN) ] || [ -n "$$(find src/criu-plugin $(LIB) -newer $(PLUGIN) | head -n 1)" ]; then \
	    echo "  PLUGIN $(PLUGIN)"; \
	    $(CC) $(ALL_CFLAGS) -isystem $(BUILD)/criu/include $(LDFLAGS) $(PLUGIN_LDFLAGS) -o $(PLUGIN) \
	        src/criu-plugin/migratable_guard.c $(LIB) $(LDLIBS); \
	fi

# libFuzzer targets: fuzz/fuzz_*.c, each linked with an instrumented library.
# Run one with e.g. build-fuzz/fuzz/fuzz_profile -max_total_time=60 corpus/
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libmigratable.a
	@mkdir -p build-fuzz/fuzz
	for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    clang -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc -Ibuild-fuzz/gen $(PKG_CFLAGS) -O1 -g \
	        -fsanitize=fuzzer,address,undefined -o build-fuzz/fuzz/$$n $$f \
	        build-fuzz/libmigratable.a $(LDLIBS) || exit 1; \
	done

demo: $(BIN) $(WL_LIBS) $(WL_BIN)
	scripts/demo.sh $(BUILD)

bench: $(BIN) $(WL_BIN) $(STUDY_BIN)
	bench/run.sh $(BUILD)

soundness: $(BIN) $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP)
	bench/soundness.sh $(BUILD)

gain: $(BIN) $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP)
	bench/gain.sh "" "" $(BUILD)

gain-source: $(BIN) $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP)
	BUILD=$(BUILD) bench/gain-source.sh

# Not part of check: minutes of QEMU TCG, needs root and Debian's archive.
lab: $(BIN) $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP)
	bench/lab.sh $(LAB_ARGS) $(BUILD)

jit-bench: $(BIN) $(WL_BIN)
	bench/jit.py $(BUILD)

# SOURCE=TYPE (default c6a.large), ALSO=all|none|"TYPE ..." (default all:
# every other study source this host can emulate).
recall: $(BIN) $(STUDY_BIN) $(STUDY_LIBS)
	BUILD=$(BUILD) bench/recall.sh $(SOURCE) $(if $(ALSO),--also "$(ALSO)")

run-bench: $(BIN) $(WL_LIBS) $(WL_BIN) $(CORPUS_STAMP)
	BUILD=$(BUILD) bench/run-targets.sh

# The binary finds its catalogs relative to itself (../share/migratable/catalogs).
CATALOGS := $(sort $(wildcard catalogs/*.json))

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/migratable/catalogs
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/migratable
	install -m 0644 $(CATALOGS) $(DESTDIR)$(PREFIX)/share/migratable/catalogs/
	if [ -f $(PLUGIN) ]; then install -d $(DESTDIR)$(CRIU_PLUGIN_DIR) && \
	    install -m 0644 $(PLUGIN) $(DESTDIR)$(CRIU_PLUGIN_DIR)/migratable_guard.so; fi

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
