# Thin wrapper over CMake: every target installs what it needs first.
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test test-asan bench demo clean

all: build

deps:
	@bash scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

# Op and engine tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_FLAGS) -DKINEMA_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS) --target test_ops test_core test_autograd
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j $(JOBS) -R '^test_(core|ops|autograd)\.' --timeout 900

bench: build
	bash bench/run

demo: build
	@echo "make demo: the default model has not been trained yet (issue 7); nothing to generate." && exit 1

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
