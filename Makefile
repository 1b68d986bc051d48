# The two commands of the README, plus the sanitizer run, benchmarks and
# install. Every target installs missing packages first (scripts/install-deps
# is idempotent and quick when nothing is missing).
BUILD      ?= build
ASAN_BUILD ?= build-asan
# CI sets WERROR=true: warnings are errors there.
WERROR     ?= false
MESON_SETUP = meson setup -Dwerror=$(WERROR)
VITALS      = $(BUILD)/core/vitals

.PHONY: all deps build run test test-sanitize bench install format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	$(MESON_SETUP) --buildtype=debugoptimized $(BUILD)

build: deps $(BUILD)/build.ninja
	meson configure $(BUILD) -Dwerror=$(WERROR) >/dev/null
	ninja -C $(BUILD)

run: build
	$(VITALS) run --config-dir conf.d --data-dir $(BUILD)/data

test: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# -O1: sanitizers need no more, and it compiles much faster than -O2 on a
# 2-core CI machine. GCC 12 reports false maybe-uninitialized in <regex>
# under ASan, hence the one warning switched off here.
$(ASAN_BUILD)/build.ninja:
	$(MESON_SETUP) -Ddebug=true -Doptimization=1 -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dcpp_args=-Wno-maybe-uninitialized $(ASAN_BUILD)

test-sanitize: deps $(ASAN_BUILD)/build.ninja
	meson configure $(ASAN_BUILD) -Dwerror=$(WERROR) >/dev/null
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2 --timeout-multiplier 3

bench: build
	bench/run-all $(BUILD)

install: build
	meson install -C $(BUILD)

format:
	find core sdk plugins tests bench -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.c' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
