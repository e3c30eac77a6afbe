# Livestreams: the entry point for people and CI. `make run` and `make test`
# work on a fresh Debian machine with only Go installed: `deps` installs the
# rest (ffmpeg from Debian, versitygw for the S3 integration tests).

GO        ?= go
BIN       := bin/livestreams
DATA      ?= .data/dev
GOBIN     := $(shell $(GO) env GOPATH)/bin
VERSITYGW := $(GOBIN)/versitygw
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME  ?= 30s
# ARGS adds flags to `make run`'s dev command, e.g.
# make run ARGS="--http-addr=127.0.0.1:9080 --rtmp-addr=127.0.0.1:1936"
ARGS      ?=

.PHONY: all build run test bench fuzz lint lint-go lint-dashboard deps deps-test deps-bench dashboard clean

all: build

build:
	$(GO) build -o $(BIN) .

# deps installs the system packages the product needs at run time.
deps:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
		echo "installing ffmpeg (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; }
	@pkg-config --exists srt 2>/dev/null || { \
		echo "installing libsrt-openssl-dev (Debian package, SRT ingest)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config libsrt-openssl-dev >/dev/null; }

# deps-test adds what the tests need: a real S3 server, and Ansible and Caddy
# for the deploy test and deploy-check (Debian's ansible-core, ansible-lint, caddy),
# and Debian's chromium with e2e/browser's node modules for the browser tests.
deps-test: deps
	@[ -x $(VERSITYGW) ] || { echo "installing versitygw v1.8.0"; \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0; }
	@command -v ansible-playbook >/dev/null && command -v ansible-lint >/dev/null && command -v caddy >/dev/null || { \
		echo "installing ansible-core, ansible-lint and caddy (Debian packages)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ansible-core ansible-lint caddy >/dev/null; }
	@command -v pocketsphinx_continuous >/dev/null && [ -d /usr/share/pocketsphinx/model/en-us ] && [ -f /usr/share/sounds/alsa/Front_Center.wav ] || { \
		echo "installing pocketsphinx, pocketsphinx-en-us and alsa-utils (Debian packages, captions tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pocketsphinx pocketsphinx-en-us alsa-utils >/dev/null; }
	@command -v chromium >/dev/null || { \
		echo "installing chromium (Debian package, the browser tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v npm >/dev/null || { \
		echo "installing nodejs and npm (Debian packages, the browser tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@[ -d e2e/browser/node_modules/playwright-core ] && [ -d e2e/browser/node_modules/hls.js ] && [ -d e2e/browser/node_modules/axe-core ] || { \
		echo "installing e2e/browser (npm ci: playwright-core, which drives Debian's chromium, hls.js and axe-core)"; \
		npm ci --prefix e2e/browser --no-audit --no-fund >/dev/null; }

# deploy-check lints deploy/: ansible-lint and --syntax-check of every
# playbook, terraform fmt and the provider-free modules' terraform tests.
.PHONY: deploy-check
deploy-check: deps-test
	$(MAKE) -C deploy check

# deps-bench adds the anchors the benchmarks compare against (nginx, etcd).
deps-bench: deps-test
	@command -v etcd >/dev/null || { echo "installing etcd-server (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "installing nginx-light (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }

# run starts a local cluster (one control plane and one edge in one process,
# local storage, no GeoIP database) and prints the URLs to use.
run: deps build
	@mkdir -p $(DATA)
	./$(BIN) dev --data-dir $(DATA) $(ARGS)

test: deps-test deploy-check
	PATH="$(GOBIN):$$PATH" $(GO) test -count=1 -timeout 20m ./...

# bench prints the figures the issues ask for, each beside its anchor.
bench: deps-bench build
	PATH="$(GOBIN):$$PATH" $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

# fuzz runs every fuzz target of the parsers of outside input.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# dashboard rebuilds the embedded web app (needs Node.js and npm); the built
# bundle is committed, so build and run do not need it.
dashboard:
	cd dashboard && npm ci --no-audit --no-fund && npm run build

# lint fails on untidy go.mod/go.sum, unformatted Go, go vet findings, and
# a committed dashboard bundle that is not what dashboard/src builds to.
lint: lint-go lint-dashboard

lint-go:
	@out=$$($(GO) mod tidy -diff) || { echo "go.mod/go.sum are not tidy (run go mod tidy):"; echo "$$out"; exit 1; }
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...

# lint-dashboard builds dashboard/src (Vite: fixed names, no hashes or
# timestamps) in a temporary copy (needs Node.js and npm) and compares the
# built files with the committed dashboard/dist, both ways.
lint-dashboard:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp -r dashboard/package.json dashboard/package-lock.json dashboard/tsconfig.json dashboard/vite.config.ts dashboard/src "$$tmp"/ && \
	( cd "$$tmp" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >npm.log 2>&1 && npm run --silent build >>npm.log 2>&1 ) || \
		{ echo "dashboard build failed:"; cat "$$tmp/npm.log"; exit 1; }; \
	for f in $$(cd "$$tmp/dist" && ls); do \
		cmp -s "$$tmp/dist/$$f" "dashboard/dist/$$f" || { echo "dashboard/dist/$$f is not what dashboard/src builds to (run make dashboard and commit dashboard/dist)"; exit 1; }; \
	done; \
	for f in $$(cd dashboard/dist && ls); do \
		[ -e "$$tmp/dist/$$f" ] || { echo "dashboard/dist/$$f is not built from dashboard/src (remove it)"; exit 1; }; \
	done; echo "dashboard/dist matches a build of dashboard/src"

clean:
	rm -rf bin $(DATA)
