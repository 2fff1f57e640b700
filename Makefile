# Thin driver over CMake. `make` builds build/extrace; `make test` runs every
# test through ctest. Both install missing packages first (scripts/install-deps).
BUILD      ?= build
ASAN_BUILD ?= build-asan
VG_BUILD   ?= build-valgrind
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_ARGS ?=

.PHONY: all deps build test unit integration asan-test valgrind-test chaos demo bench clean fuzz

all: build

deps:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

# Every test again in an ASan+UBSan build (the integration tests then run
# the sanitized binary too).
asan-test: deps
	cmake -S . -B $(ASAN_BUILD) -DEXTRACE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# The unit tests under valgrind (memory errors and definite leaks fail).
valgrind-test: deps
	cmake -S . -B $(VG_BUILD) -DEXTRACE_VALGRIND_TESTS=ON
	cmake --build $(VG_BUILD) -j $(JOBS)
	cd $(VG_BUILD) && ctest --output-on-failure -j $(JOBS) -L valgrind

# The chaos test (part of make test) again and again, each run with a new
# random schedule of disturbances, until one fails or CHAOS_RUNS passed.
CHAOS_RUNS ?= 5
chaos: build
	cd $(BUILD) && ctest --output-on-failure -R '^integration/test_chaos$$' --repeat until-fail:$(CHAOS_RUNS)

demo: build
	$(BUILD)/extrace demo $(DEMO_ARGS)

bench: build
	bench/api.sh

# Every libFuzzer target of tests/fuzz for FUZZ_SECONDS each, two at a time,
# in build-fuzz (clang, ASan + UBSan); non-zero when one crashed. See docs/fuzzing.md.
fuzz:
	@scripts/install-deps --check --fuzz >/dev/null 2>&1 || scripts/install-deps --fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(VG_BUILD)

# docs/configuration.md, rendered from the commands' option tables
# (tests/integration/test_config_doc.c fails when it is out of date).
.PHONY: docs
docs: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) --target extrace -j $(JOBS)
	$(BUILD)/extrace config-doc --output docs/configuration.md
