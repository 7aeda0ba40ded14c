# The two quick-start commands, and a few conveniences around CMake presets.
#   make run   — install what is missing, build the release binary, serve on 127.0.0.1:8000
#   make test  — install what is missing, build (sanitizers, -Werror), run every test through CTest;
#                then the fuzz targets (a few seconds each) and the ThreadSanitizer build of the
#                concurrent parts, each in its own preset (build/fuzz, build/tsan)
TEST_PRESET ?= ci
RUN_PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: run test deps build build-test build-fuzz build-tsan test-fuzz test-tsan fuzz bench format tidy clean

deps:
	@scripts/install-deps

build: deps
	cmake --preset $(RUN_PRESET)
	cmake --build --preset $(RUN_PRESET) -j $(JOBS)

run: build
	./build/$(RUN_PRESET)/parley serve --host 127.0.0.1 --port 8000 --data-dir ./data

build-test: deps
	cmake --preset $(TEST_PRESET)
	cmake --build --preset $(TEST_PRESET) -j $(JOBS)

test: build-test build-fuzz build-tsan
	ctest --preset $(TEST_PRESET)
	ctest --preset fuzz
	ctest --preset tsan

# libFuzzer targets (clang) and the ThreadSanitizer unit tests: separate presets, so that the main
# build is not slowed; `make test` builds and runs both after the main suite.
build-fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)

test-fuzz: build-fuzz
	ctest --preset fuzz

build-tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS)

test-tsan: build-tsan
	ctest --preset tsan

# The long fuzzing run: FUZZ_SECONDS per target (default 300), executions and crashes per target.
fuzz: build-fuzz
	bench/fuzz.sh

bench: build
	bench/run-all

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'fuzz/*.cpp' 'fuzz/*.hpp')

tidy: deps
	cmake --preset tidy
	cmake --build --preset tidy -j $(JOBS)

clean:
	rm -rf build
