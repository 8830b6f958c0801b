# Thin wrapper over CMake: every target installs what it needs first.
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test test-asan bench demo train-default clean

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

# A sample video from the shipped default model (models/default), offline.
DEMO_PROMPT ?= a red circle moves to the right on a blue sky
DEMO_OUT ?= demo.mp4
demo: build
	@test -f models/default/model.json || { echo "make demo: the default model is still being trained (docs/model-card.md): models/default has no model.json yet. Everything else works: see README.md."; exit 1; }
	$(BUILD)/bin/kinema generate "$(DEMO_PROMPT)" -o $(DEMO_OUT) --seed 1
	@echo "make demo: wrote $(abspath $(DEMO_OUT)) (preview: $(abspath $(DEMO_OUT)).preview.png)"

# Reproduces models/default from scratch (resumable: run it again after an interruption).
train-default: build
	bash scripts/train-default

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
