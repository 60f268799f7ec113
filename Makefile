# Kabel. `make run` and `make test` do all the set-up on a fresh Debian 12 machine: install the
# missing Debian packages (apt-get, through sudo when not root), configure and build Release, then
# run the editor / every test.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
PATCH ?= patches/default.kabel

# Everything the build, the tests and the end-to-end checks need (see README: Dependencies).
PACKAGES := build-essential cmake ninja-build pkg-config \
	libimgui-dev libglfw3-dev portaudio19-dev librtmidi-dev libjack-jackd2-dev libasound2-dev \
	catch2 libsndfile1-dev nlohmann-json3-dev libcli11-dev libfftw3-dev libsamplerate0-dev liblo-dev liblo-tools ableton-link-dev libasio-dev clang-format git \
	jackd2 jack-capture sox python3 procps xvfb xauth xdotool libgl1-mesa-dri fonts-dejavu-core \
	clang-14 libclang-rt-14-dev

CMAKE_FLAGS ?=

.PHONY: all deps build run test test-sanitizers fuzz-build fuzz fuzz-short soak bench peers clean

all: build

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/kabel $(PATCH)

# The core (and the modules it runs) again under AddressSanitizer+UndefinedBehaviorSanitizer and
# ThreadSanitizer: engine, session, compiler, two-thread plan swaps, real-time stress, patch files,
# golden renders.
SANITIZER_RUN = ./$(1)/kabel_core_tests "~[.]" --reporter compact --order lex
test-sanitizers: deps
	cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKABEL_SANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS) --target kabel_core_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(call SANITIZER_RUN,$(BUILD)-asan)
	cmake -S . -B $(BUILD)-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKABEL_SANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(BUILD)-tsan -j $(JOBS) --target kabel_core_tests
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(call SANITIZER_RUN,$(BUILD)-tsan)

# libFuzzer targets (tests/fuzz: patch files, .scl/.kbm/.ascl, MIDI bytes, MTS sysex, audio files)
# in their own clang-14 build, so the main build stays g++. `make fuzz` runs each target
# FUZZ_SECONDS; `make test` runs a short pass (FUZZ_SHORT_SECONDS each: 5 targets x 15 s = 75 s)
# when clang++-14 is installed and fails on a crash.
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 15
fuzz-build: deps
	cmake -S . -B $(BUILD)-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DKABEL_FUZZ=ON -DKABEL_SANITIZE=fuzzer-no-link,address,undefined $(CMAKE_FLAGS)
	cmake --build $(BUILD)-fuzz -j $(JOBS) --target kabel_fuzzers

fuzz: fuzz-build
	tests/fuzz/run.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

fuzz-short: deps
	@if command -v clang++-14 >/dev/null; then \
	  $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SHORT_SECONDS); \
	else \
	  echo "fuzz-short: clang++-14 not installed, skipping the fuzz pass"; \
	fi

test: build test-sanitizers fuzz-short
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The soak test (issue 8) for SOAK_SECONDS (`make test` runs it for 60 s as ctest e2e_soak): a
# random edit every 100 ms while the patch plays through JACK's dummy driver (tests/e2e/soak.sh).
SOAK_SECONDS ?= 600
soak: build
	bash tests/e2e/soak.sh ./$(BUILD)/kabel_soak tests/e2e/patches/soak.kabel ../shared/corpus $(SOAK_SECONDS)

bench: build
	./$(BUILD)/kabel bench --peers

# The peer engines for `kabel bench --peers` (not needed to build or test Kabel).
peers: deps
	@sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends puredata-core supercollider-server csound chuck

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
