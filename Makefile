# Two commands for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SYSPKGS := iptables nftables ebtables arptables iproute2 conntrack ipset docker.io busybox-static \
           socat chromium ufw firewalld dbus
# Host firewall managers the lab runs inside its own namespaces only (src/nflens/lab/hostfw.py).
# When sysdeps installs one, its service is kept from starting (policy-rc.d 101) and disabled
# afterwards, so it never runs in the machine's root namespace. One the machine already had is
# the admin's: it is never stopped, disabled or reconfigured.
FWPKGS := ufw firewalld
# Where the install guard and systemd live (variables only so tests/test_makefile.py can run
# sysdeps against fakes without touching this machine).
POLICY_RC_D ?= /usr/sbin/policy-rc.d
SYSTEMD_RUN ?= /run/systemd/system

.PHONY: setup sysdeps venv lint lab-docker test test-fast test-long lab-matrix demo bench bench-hosts fuzz-long clean

setup: sysdeps venv lab-docker

# System packages: only where we are root and apt exists (CI, the lab). Elsewhere the lab tests skip.
sysdeps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  have() { dpkg-query -W -f='$${Status}\n' "$$1" 2>/dev/null | grep -q ' installed$$'; }; \
	  missing=""; for p in $(SYSPKGS); do have $$p || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    ours=""; for p in $(FWPKGS); do \
	      case " $$missing " in *" $$p "*) ours="$$ours $$p";; esac; done; \
	    echo "installing system packages:$$missing"; \
	    guard=""; if [ ! -e $(POLICY_RC_D) ]; then \
	      printf '#!/bin/sh\nexit 101\n' > $(POLICY_RC_D); chmod 755 $(POLICY_RC_D); guard=1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	    rc=$$?; [ -n "$$guard" ] && rm -f $(POLICY_RC_D); \
	    if [ -n "$$ours" ] && [ -d $(SYSTEMD_RUN) ]; then \
	      echo "keeping the firewall service(s) installed just now from running:$$ours"; \
	      systemctl disable --now $$ours >/dev/null 2>&1 || true; fi; \
	    [ $$rc = 0 ] || exit $$rc; \
	  fi; \
	else echo "not root or no apt-get: skipping system packages (lab tests will skip)"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[test,lab]'
	touch $@

# Docker 26 and 28 for the lab, beside the machine's 20.10 (src/nflens/lab/versions.py): fetched
# with a private apt configuration into /var/cache/nflens-lab/docker/<version>/, nothing
# installed. Without root or network the lab tests of those versions skip, naming the version.
lab-docker: venv
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  $(BIN)/nflens lab versions --fetch || echo "some Docker versions are missing: their lab tests will skip"; \
	else echo "not root or no apt-get: Docker 26 and 28 not fetched (their lab tests will skip)"; fi

# Lint and types first, so CI fails on either before the long suite runs. `ruff check` only:
# no `ruff format` (see [tool.ruff] in pyproject.toml).
lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: setup lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not matrix"

# Every scenario variant on every Docker version, live (about 45 min), then the lab tests kept
# out of `make test` (marker `matrix`). Fixtures written to build/lab-matrix; to regenerate the
# committed ones: `nflens lab matrix --out tests/fixtures/lab`.
lab-matrix: setup
	@status=0; $(BIN)/nflens lab matrix --out build/lab-matrix || status=1; \
	$(BIN)/python -m pytest -q -p no:cacheprovider -m matrix || status=1; exit $$status

test-fast: venv lint
	$(BIN)/python -m pytest -q -m "not lab" -p no:cacheprovider

# The property tests' random search (20x the examples, not derandomized; tests/conftest.py).
# `make test` is deterministic; pin whatever this finds with @example next to its test.
test-long: venv
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q -m "not lab" -p no:cacheprovider \
	  tests/dialects tests/symbolic tests/analysis

# Python only: the virtualenv and the bundled example. No system package, no service.
demo: venv
	$(BIN)/nflens snapshot show examples/snapshot-example
	$(BIN)/nflens check --snapshot examples/snapshot-example examples/snapshot-example/flows.json
	$(BIN)/nflens audit --snapshot examples/snapshot-example
	mkdir -p build && $(BIN)/nflens trace --snapshot examples/snapshot-example \
	  --from eth1:198.51.100.2 --to 198.51.100.1:8080/tcp --html build/trace.html --brief

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/readme.py

# Benchmark hosts built with a real dockerd in the lab (root; minutes): 400 containers on 10
# networks, 200 published ports, a 120-rule DOCKER-USER allow-list, on Debian's Docker 20.10 and
# on Docker 28.5.2 (lab/versions.py); 200 containers under the real ufw; kept in bench/hosts/.
# Another daemon: make bench-hosts BENCH_HOSTS_ARGS="--dockerd /path/to/dockerd"
BENCH_HOSTS_ARGS ?=
bench-hosts: setup
	$(BIN)/python bench/hosts.py --containers 400 --networks 10 --published 200 $(BENCH_HOSTS_ARGS)
	$(BIN)/python bench/hosts.py --containers 400 --networks 10 --published 200 --docker 28
	$(BIN)/python bench/hosts.py --containers 200 --networks 10 --published 100 --allowed 57 \
		--firewall ufw

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
