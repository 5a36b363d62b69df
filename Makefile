# The two commands of the README:
#   make run    install build dependencies, build, run berth on its embedded defaults
#   make test   install test dependencies, build, run every test
#   make fuzz   build the libFuzzer targets with clang, run each FUZZ_SECONDS
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test unit integration bench fuzz clean

all: build

deps:
	scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DBERTH_WERROR=ON >/dev/null
	ninja -C $(BUILD_DIR) -j$(JOBS) berth

run: deps build
	$(BUILD_DIR)/berth serve --listen 127.0.0.1:5000 --data-dir ./berth-data

test:
	scripts/install-deps.sh --test
	scripts/test.sh

bench:
	scripts/install-deps.sh --bench
	scripts/bench.sh

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
