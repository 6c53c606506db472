# Two commands for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SYSPKGS := iptables nftables ebtables arptables iproute2 conntrack docker.io busybox-static socat chromium

.PHONY: setup sysdeps venv test test-fast demo bench bench-hosts fuzz-long clean

setup: sysdeps venv

# System packages: only where we are root and apt exists (CI, the lab). Elsewhere the lab tests skip.
sysdeps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(SYSPKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	else echo "not root or no apt-get: skipping system packages (lab tests will skip)"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[test]'
	touch $@

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: venv
	$(BIN)/python -m pytest -q -m "not lab" -p no:cacheprovider

demo: setup
	$(BIN)/nflens snapshot show examples/snapshot-example
	$(BIN)/nflens check --snapshot examples/snapshot-example examples/snapshot-example/flows.json
	$(BIN)/nflens audit --snapshot examples/snapshot-example
	mkdir -p build && $(BIN)/nflens trace --snapshot examples/snapshot-example \
	  --from eth1:198.51.100.2 --to 198.51.100.1:8080/tcp --html build/trace.html --brief

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/readme.py

# Benchmark hosts built with a real dockerd in the lab (root; minutes): 400 containers on 10
# networks, 200 published ports, a 120-rule DOCKER-USER allow-list; kept in bench/hosts/.
# Another daemon: make bench-hosts BENCH_HOSTS_ARGS="--dockerd /path/to/dockerd"
BENCH_HOSTS_ARGS ?=
bench-hosts: setup
	$(BIN)/python bench/hosts.py --containers 400 --networks 10 --published 200 $(BENCH_HOSTS_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
