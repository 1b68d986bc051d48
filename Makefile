# The two commands of the README, plus the sanitizer run, benchmarks and
# install. Every target installs missing packages first (scripts/install-deps
# is idempotent and quick when nothing is missing).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# make fuzz: seconds per target, which targets, and whether to merge new
# coverage back into the committed corpora (tests/fuzz/README.md).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= line_protocol json_telemetry http_request http_parts websocket selector time_parse config query_request
FUZZ_MERGE   ?= 0
# CI sets WERROR=true: warnings are errors there.
WERROR     ?= false
MESON_SETUP = meson setup -Dwerror=$(WERROR)
VITALS      = $(BUILD)/core/vitals

.PHONY: all deps build run test test-sanitize fuzz bench install format clean

all: build

deps:
	@scripts/install-deps

# -O2 without debug info: the agent users run and the tests use. Debug info
# is most of the compile and link time of this template-heavy code; add it
# with `meson configure build -Ddebug=true` when stepping through in gdb.
$(BUILD)/build.ninja:
	$(MESON_SETUP) -Doptimization=2 -Ddebug=false $(BUILD)

# pkgconfig.relocatable is a default of meson.build too; set here as well so
# build trees configured before it get it (the SDK install test needs it).
build: deps $(BUILD)/build.ninja
	meson configure $(BUILD) -Dwerror=$(WERROR) -Dpkgconfig.relocatable=true >/dev/null
	ninja -C $(BUILD)

run: build
	$(VITALS) run --config-dir conf.d --data-dir $(BUILD)/data

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# -O1: sanitizers need no more, and it compiles much faster than -O2 on a
# 2-core CI machine. -g1 (functions and line numbers) is all a sanitizer
# report's stack trace needs, at a fraction of full debug info's compile and
# link time. GCC 12's maybe-uninitialized analysis gives false positives
# with ASan's instrumentation, hence the one warning switched off here.
$(ASAN_BUILD)/build.ninja:
	$(MESON_SETUP) -Ddebug=false -Doptimization=1 -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-g1 -Dcpp_args='-g1 -Wno-maybe-uninitialized' $(ASAN_BUILD)

test-sanitize: deps $(ASAN_BUILD)/build.ninja
	meson configure $(ASAN_BUILD) -Dwerror=$(WERROR) -Dpkgconfig.relocatable=true >/dev/null
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 --timeout-multiplier 3

# libFuzzer with ASan and UBSan (clang), in its own build dir: coverage
# instrumentation everywhere, only the fuzz targets built.
$(FUZZ_BUILD)/build.ninja:
	CC=clang CXX=clang++ $(MESON_SETUP) -Dfuzzing=true -Ddebug=true -Doptimization=1 \
	  -Db_sanitize=address,undefined -Db_lundef=false $(FUZZ_BUILD)

fuzz: deps
	@scripts/install-deps --fuzz
	$(MAKE) $(FUZZ_BUILD)/build.ninja
	meson configure $(FUZZ_BUILD) -Dwerror=$(WERROR) >/dev/null
	ninja -C $(FUZZ_BUILD) $(addprefix tests/fuzz/fuzz_,$(FUZZ_TARGETS))
	scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_MERGE) $(FUZZ_TARGETS)

bench: build
	bench/run-all $(BUILD)

install: build
	meson install -C $(BUILD)

format:
	find core sdk plugins tests bench -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.c' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
