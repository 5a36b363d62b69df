# The README's two commands are ./run.sh and ./test.sh: they install make and everything else
# from Debian's packages, then call run-only / test-only here. With the packages installed:
#   make run    install build dependencies (if missing), build, run berth on its embedded defaults
#   make test   install test dependencies (if missing), build, run every test
#   make fuzz   build the libFuzzer targets with clang, run each FUZZ_SECONDS
#   make format apply .clang-format to the C++ sources (scripts/check-format.sh reports)
#   make install  build, then install berth, its systemd unit and default config (PREFIX, DESTDIR)
#   make deb    build a Release berth and package it as build/berth_<version>_<arch>.deb
#   make image  an OCI image of berth (build/berth-image.tar): that package on Debian's minbase
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
PREFIX ?= /usr/local

.PHONY: all deps build run run-only test test-only bench fuzz format install deb image clean

all: build

deps:
	sh scripts/install-deps.sh

build:
	@echo "== building berth ($(BUILD_TYPE)) in $(BUILD_DIR)/"
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DBERTH_WERROR=ON >/dev/null
	ninja -C $(BUILD_DIR) -j$(JOBS) berth

run: deps run-only

run-only: build
	$(BUILD_DIR)/berth serve --listen 127.0.0.1:5000 --data-dir ./berth-data

test:
	sh scripts/install-deps.sh --test
	$(MAKE) test-only

test-only:
	scripts/test.sh

bench:
	sh scripts/install-deps.sh --bench
	scripts/bench.sh

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

format:
	git ls-files --cached --others --exclude-standard -- 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' | \
	  xargs clang-format-14 -i --style=file

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)" --strip

deb:
	$(MAKE) build BUILD_DIR=build-release BUILD_TYPE=Release
	scripts/make-deb.sh --binary build-release/berth --out build

image: deb
	scripts/make-image.sh --deb "$$(ls -t build/berth_*.deb | head -n1)" --out build/berth-image.tar

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
