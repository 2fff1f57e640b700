# Thin driver over CMake. `make` builds build/extrace; `make test` runs every
# test through ctest. Both install missing packages first (scripts/install-deps).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test unit integration asan-test demo bench clean

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

# Unit tests again in an ASan+UBSan build.
asan-test: deps
	cmake -S . -B $(ASAN_BUILD) -DEXTRACE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L unit

demo: build
	@echo "make demo: not available yet: it needs 'extrace worker' and 'extrace store' (issues 3, 4, 6)."
	@echo "Meanwhile: build/extrace api --help and build/extrace generate --help."

bench: build
	bench/api.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
