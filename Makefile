# bun-gvproxy build driver: one entry point for the native library, the test guest,
# the JS dependencies (Bun itself comes from npm), tests, demo, benchmarks and fuzzing.

GO        ?= go
UNAME_S   := $(shell uname -s)
LIBEXT    := $(if $(filter Darwin,$(UNAME_S)),dylib,so)
BUILD     := build
LIB       := $(BUILD)/libgvproxy.$(LIBEXT)
# The test build: the same library plus the test-only exports (gvproxy_test_*, Go build
# tag gvproxytest). Only the tests and benchmarks that need those hooks load it.
TEST_LIB  := $(BUILD)/test/libgvproxy.$(LIBEXT)
GUEST     := $(BUILD)/gvguest
RELAY     := $(BUILD)/tap-relay
GVPROXY   := $(BUILD)/gvproxy
BUN       := node_modules/.bin/bun
TSC       := node_modules/.bin/tsc
GVTV      := $(shell sed -n 's/^[[:space:]]*github.com\/containers\/gvisor-tap-vsock \(v[^ ]*\).*/\1/p' libgvproxy/go.mod)
# framing/ is the Go module the library, the guest and bench/peer share (replace directives).
FRAMING_SRC := $(shell find framing -name '*.go' -not -name '*_test.go') framing/go.mod
LIB_SRC   := $(shell find libgvproxy -name '*.go' -not -name '*_test.go') libgvproxy/go.mod libgvproxy/go.sum $(FRAMING_SRC)
GUEST_SRC := $(shell find guest -name '*.go' -not -name '*_test.go' 2>/dev/null) guest/go.mod guest/go.sum $(FRAMING_SRC)
FUZZTIME  ?= 60s
VM        ?= userspace

.PHONY: all build lib test-lib guest relay deps test test-go test-ts typecheck demo bench bench-report fuzz gvproxy vet clean

all: build
build: lib test-lib guest relay deps

lib: $(LIB)
$(LIB): $(LIB_SRC)
	cd libgvproxy && CGO_ENABLED=1 $(GO) build -trimpath -buildmode=c-shared -o ../$(LIB) .
	@mv -f $(BUILD)/libgvproxy.h $(BUILD)/libgvproxy.h 2>/dev/null || true

test-lib: $(TEST_LIB)
$(TEST_LIB): $(LIB_SRC)
	@mkdir -p $(BUILD)/test
	cd libgvproxy && CGO_ENABLED=1 $(GO) build -trimpath -tags gvproxytest -buildmode=c-shared -o ../$(TEST_LIB) .

guest: $(GUEST)
$(GUEST): $(GUEST_SRC)
	cd guest && CGO_ENABLED=0 $(GO) build -trimpath -o ../$(GUEST) .

# The TAP relay of the kernel guest (test/support/kernel-guest.ts): Linux only.
relay: $(RELAY)
$(RELAY): $(GUEST_SRC)
	$(if $(filter Linux,$(UNAME_S)),cd guest && CGO_ENABLED=0 $(GO) build -trimpath -o ../$(RELAY) ./cmd/tap-relay,@echo "tap-relay: Linux only, skipped")

# The standalone gvproxy of the same gvisor-tap-vsock version: the peer the benchmarks
# and some tests compare against.
gvproxy: $(GVPROXY)
$(GVPROXY): libgvproxy/go.mod
	@mkdir -p $(BUILD)
	GOBIN=$(abspath $(BUILD)) $(GO) install github.com/containers/gvisor-tap-vsock/cmd/gvproxy@$(GVTV)

deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

GO_MODULES := framing libgvproxy guest bench/peer

vet:
	@set -e; for m in $(GO_MODULES); do (cd $$m && $(GO) vet ./...); done
	cd libgvproxy && $(GO) vet -tags gvproxytest .
	@test -z "$$(gofmt -l $(GO_MODULES))" || { echo "gofmt needed:"; gofmt -l $(GO_MODULES); exit 1; }

test-go: vet
	cd framing && $(GO) test -count=1 ./...
	cd libgvproxy && $(GO) test -count=1 ./...
	cd guest && $(GO) test -count=1 ./...

typecheck: deps
	$(TSC) --noEmit -p .

test-ts: build typecheck
	$(BUN) test

test: test-go test-ts

demo: build
	$(BUN) examples/demo.ts --vm=$(VM)

# Results go to build/bench/ only: a benchmark run never changes a tracked file.
bench: build gvproxy
	$(BUN) bench/run.ts $(if $(QUICK),--quick,)

# BENCHMARKS.md's generated tables and bench/results/throughput.svg, rendered from the
# saved results in bench/results/; FROM=build/bench/<full|quick>.json saves that run first.
bench-report: deps
	$(BUN) bench/publish.ts $(if $(FROM),--from=$(FROM),)

# Each Go fuzz target for FUZZTIME (go test runs one -fuzz target per invocation). The
# seed corpora run on every `go test`, so CI covers them without this target.
FUZZ_TARGETS := internal/config:FuzzDecode internal/link:FuzzStreamFrames \
  internal/policy:FuzzInspectTLS internal/policy:FuzzInspectHTTP \
  internal/policy:FuzzParseAllowNet internal/policy:FuzzGuardHTTPRequests

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "== $$pkg $$name ($(FUZZTIME))"; \
	  (cd libgvproxy && $(GO) test ./$$pkg -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=3s); \
	done
	$(BUN) test test/hardening/config-property.test.ts

clean:
	rm -rf $(BUILD)

# npm packages (issue 12): the main package and one package per platform with its
# prebuilt library, packed into dist/ by scripts/dist.ts. zig (from PyPI) is the C
# compiler and linker of the darwin libraries; Debian's cross gcc builds linux-arm64.
ZIG_VERSION := 0.17.0
ZIG         := $(BUILD)/toolchain/zig/ziglang/zig
# The arm64 Bun (npm) the install test runs under qemu-user, same version as ours.
BUN_VERSION := $(shell node -p "require('./package.json').devDependencies.bun")
BUN_ARM64   := $(BUILD)/toolchain/bun-linux-aarch64/bin/bun

.PHONY: zig dist dist-check test-install
zig: $(ZIG)
$(ZIG):
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target $(BUILD)/toolchain/zig ziglang==$(ZIG_VERSION)

dist: deps $(ZIG)
	$(BUN) scripts/dist.ts --zig $(ZIG)

# dist, then every library built again elsewhere from a clean cache: same bytes or fail.
dist-check: deps $(ZIG)
	$(BUN) scripts/dist.ts --zig $(ZIG) --check-reproducible

$(BUN_ARM64):
	@rm -rf $(BUILD)/toolchain/bun-linux-aarch64 && mkdir -p $(BUILD)/toolchain/bun-linux-aarch64
	cd $(BUILD)/toolchain && npm pack --silent @oven/bun-linux-aarch64@$(BUN_VERSION) >/dev/null \
	  && tar -xzf oven-bun-linux-aarch64-$(BUN_VERSION).tgz -C bun-linux-aarch64 --strip-components=1 \
	  && rm oven-bun-linux-aarch64-$(BUN_VERSION).tgz

# Installs the dist/ tarballs into fresh projects outside the repository (no Go on PATH),
# on linux-x64 and on linux-arm64 under qemu-user, and uses them there.
test-install: dist-check guest $(BUN_ARM64)
	BUN_ARM64=$(abspath $(BUN_ARM64)) $(BUN) test --config=test/install/bunfig.toml ./test/install/
