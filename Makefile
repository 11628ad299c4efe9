# The two commands the README opens with. Everything else is CMake + ctest.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan demo test test-asan stress bench clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(BUILD) -j$(JOBS)

demo: build
	@sh examples/run-demo.sh $(BUILD)

# Every test: the normal build with gcc, then the AddressSanitizer+UBSan build with clang.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE bench
	@$(MAKE) --no-print-directory test-asan

build-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCPUPROF_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(BUILD)-asan -j$(JOBS)

test-asan: build-asan
	@cd $(BUILD)-asan && ctest --output-on-failure -j$(JOBS) -LE 'bench|nosan'

# The full torture suite: 30 s in the normal build and under ASan+UBSan.
stress: build build-asan
	@cd $(BUILD) && TORTURE_SECONDS=30 ctest --output-on-failure -L stress
	@cd $(BUILD)-asan && TORTURE_SECONDS=40 ctest --output-on-failure -L stress

bench: build
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
