# wskx: build, test, run. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin/wskx
# DMTCP is found on PATH or under WSKX_DMTCP_HOME; /opt/dmtcp is where the
# docs suggest installing it.
ifeq ($(origin WSKX_DMTCP_HOME), undefined)
  ifneq ($(wildcard /opt/dmtcp/bin/dmtcp_launch),)
    export WSKX_DMTCP_HOME := /opt/dmtcp
  endif
endif

# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 5m

.PHONY: help build workloads blobservers npmtools redis test lint run run-workflow experiment experiment-fanout figures bench fuzz fuzz-short clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/wskx
	$(GO) build -o $(BIN) ./cmd/wskx

workloads: ## build the example workloads (C) into examples/workloads/bin
	$(MAKE) -C examples/workloads

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

blobservers: ## install Azurite, versitygw and fake-gcs-server (pinned) into ~/.cache/wskx
	bash scripts/blobservers.sh install

npmtools: ## install openwhisk-composer and the openwhisk client (pinned, npm) into ~/.cache/wskx/npm
	bash scripts/npmtools.sh install

redis: ## install redis-server (Debian) for openwhisk-composer's parallel, the fan-out baseline
	bash scripts/redis.sh install

test: lint workloads blobservers npmtools redis ## run every test; the storage tests start the blob servers on loopback
	# One package at a time: the chain tests time checkpoints against short
	# action limits, and the storage tests move 300 MB objects.
	$(GO) test -p 1 -count=1 -timeout 45m ./...
	$(MAKE) fuzz-short

fuzz: ## run every fuzz target for FUZZTIME each (default 5m)
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./policies
	$(GO) test -run '^$$' -fuzz '^FuzzExpr$$' -fuzztime $(FUZZTIME) ./policies
	$(GO) test -run '^$$' -fuzz '^FuzzAPIRequest$$' -fuzztime $(FUZZTIME) ./platform
	$(GO) test -run '^$$' -fuzz '^FuzzProxyInit$$' -fuzztime $(FUZZTIME) ./runner
	$(GO) test -run '^$$' -fuzz '^FuzzProxyRun$$' -fuzztime $(FUZZTIME) ./runner
	$(GO) test -run '^$$' -fuzz '^FuzzDecide$$' -fuzztime $(FUZZTIME) ./composer

fuzz-short: ## every fuzz target for 10s each (the end of make test)
	$(MAKE) fuzz FUZZTIME=10s

run: build workloads ## the main job: a long job through a checkpoint chain on the built-in platform
	$(BIN) run examples/compositions/deadline.yaml

run-workflow: build workloads ## a workflow: nodejs actions around a long job, on the built-in platform
	$(BIN) run examples/compositions/pipeline.yaml

# The committed results that docs/trilemma.md and docs/img are drawn from.
DEFAULT_RESULTS := docs/results/results.json
FANOUT_RESULTS := docs/results/fanout/results.json

experiment: build workloads ## run the default trilemma experiment and regenerate docs/trilemma.md
	rm -rf out/experiment
	$(BIN) experiment examples/experiments/default.yaml --out out/experiment
	mkdir -p docs/results
	cp out/experiment/results.csv out/experiment/results.json docs/results/
	$(BIN) experiment examples/experiments/default.yaml --from $(DEFAULT_RESULTS) --docs docs/trilemma.md >/dev/null

experiment-fanout: build npmtools redis ## the fan-out experiment (wskx's joins against openwhisk-composer's, with Redis)
	rm -rf out/experiment-fanout
	set -a; . "$${WSKX_CACHE:-$$HOME/.cache/wskx}/npmtools.env"; set +a; \
	  env=$$(mktemp); trap 'bash scripts/redis.sh stop '"$$env" EXIT; \
	  bash scripts/redis.sh start "$$env"; . "$$env"; \
	  $(BIN) experiment examples/experiments/fanout.yaml --out out/experiment-fanout --redis "$$WSKX_REDIS_URL"
	mkdir -p docs/results/fanout
	cp out/experiment-fanout/results.csv out/experiment-fanout/results.json docs/results/fanout/
	$(BIN) experiment examples/experiments/fanout.yaml --from $(FANOUT_RESULTS) --docs docs/trilemma.md >/dev/null

figures: build ## redraw docs/img and docs/trilemma.md's tables from the committed results, running nothing
	$(BIN) experiment examples/experiments/default.yaml --from $(DEFAULT_RESULTS) --docs docs/trilemma.md >/dev/null
	$(BIN) experiment examples/experiments/fanout.yaml --from $(FANOUT_RESULTS) --docs docs/trilemma.md >/dev/null

bench: workloads ## print the benchmarks' figures
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean: ## remove build outputs
	rm -rf bin examples/workloads/bin
