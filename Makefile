# The two quick-start commands, and a few conveniences around CMake presets.
#   make run   — install what is missing, build the release binary, serve on 127.0.0.1:8000
#   make test  — install what is missing, build (sanitizers, -Werror), run every test through CTest
TEST_PRESET ?= ci
RUN_PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: run test deps build build-test bench format tidy clean

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

test: build-test
	ctest --preset $(TEST_PRESET)

bench: build
	bench/run-all

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp')

tidy: deps
	cmake --preset tidy
	cmake --build --preset tidy -j $(JOBS)

clean:
	rm -rf build
