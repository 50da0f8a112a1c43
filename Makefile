# ha-swarm: the commands a user and a developer need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev

# A local file backend and a passphrase file by default: no Pulumi account needed.
# Set PULUMI_BACKEND_URL / PULUMI_CONFIG_PASSPHRASE(_FILE) yourself to use others.
HA_SWARM_HOME ?= $(HOME)/.ha-swarm
export PULUMI_BACKEND_URL ?= file://$(HA_SWARM_HOME)/state
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE),undefined)
export PULUMI_CONFIG_PASSPHRASE_FILE ?= $(HA_SWARM_HOME)/passphrase
endif
export PULUMI_SKIP_UPDATE_CHECK ?= true
export HA_SWARM_HOME

.PHONY: up preview destroy stack venv check test test-unit test-scripts test-integration hosts-up hosts-down hosts-status lint bench clean

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The pulumi CLI: the one on PATH, else the official release of the pin (downloaded once, checksum
# verified), else the offline toolchain (built from Go modules the first time): see
# tools/ensure-pulumi.sh. Its environment is kept in $(PULUMI_ENV) for the commands below.
PULUMI_ENV := $(HA_SWARM_HOME)/pulumi.env
WITH_PULUMI := . $(PULUMI_ENV) &&
.PHONY: pulumi-cli
pulumi-cli:
	@mkdir -p $(HA_SWARM_HOME) && chmod 700 $(HA_SWARM_HOME)
	@tools/ensure-pulumi.sh >$(PULUMI_ENV).new && mv -f $(PULUMI_ENV).new $(PULUMI_ENV)

# The stack (state folder, passphrase, key pair), then, for a lab stack, this machine's libvirt and
# what lab.image / lab.domainType `auto` stand for (chosen once, recorded as labAuto).
stack: venv pulumi-cli
	$(WITH_PULUMI) tools/stack-init.sh $(STACK)
	$(WITH_PULUMI) tools/lab-ready.sh $(STACK)
	$(WITH_PULUMI) $(PY) -m tools.lab_auto $(STACK)

# PULUMI_FLAGS: more flags for pulumi up/preview/destroy (e.g. --yes where nobody can answer its prompt).
PULUMI_FLAGS ?=
# up ends with the table of `make verify`: what the tutorial checks by hand (nodes, replicas, every
# endpoint, the sticky cookie).
# POLICY: the policy pack (policy/: odd manager count, an authenticated dashboard, a read-only
# Docker socket, secret tokens and unlock key, restart policies) runs on every preview and up, and a
# violation stops it before anything changes; `POLICY=` runs without it.
POLICY ?= --policy-pack policy
# UP_VERIFY_TIMEOUT: how long verify, right after the deploy, waits for failing checks (tasks
# starting, Traefik reading the services); VMs under software emulation take minutes.
UP_VERIFY_TIMEOUT ?= 300
up: stack
	$(WITH_PULUMI) pulumi up --stack $(STACK) $(POLICY) $(PULUMI_FLAGS)
	$(WITH_PULUMI) $(PY) -m tools.verify --stack $(STACK) --timeout $(UP_VERIFY_TIMEOUT)

preview: stack
	$(WITH_PULUMI) pulumi preview --stack $(STACK) $(POLICY) $(PULUMI_FLAGS)

destroy: venv pulumi-cli
	$(WITH_PULUMI) $(PY) -m tools.restore_key_file $(STACK)
	$(WITH_PULUMI) pulumi destroy --stack $(STACK) $(PULUMI_FLAGS)

# Check the deployed cluster as the tutorial does by hand (nodes, managers, replicas, every
# endpoint, sticky cookies) and print a table; fails when a check fails. HA_SWARM_VERIFY_TIMEOUT=N
# waits N seconds (default 60) for failing checks to pass.
# BACKUP=<archive> (after make restore): then also compare the swarm with the backup's record.
.PHONY: verify
verify: venv pulumi-cli
	$(WITH_PULUMI) $(PY) -m tools.verify --stack $(STACK)
	$(if $(BACKUP),$(WITH_PULUMI) $(PY) -m tools.backup check --stack $(STACK) "$(BACKUP)")

# Back up the swarm's Raft store (docs/backup.md): on a manager that is not the leader, quorum
# checked, its Docker daemon stopped meanwhile; encrypted with age to the stack's secret backupKey
# (made the first time) into backup.dir (default $(HA_SWARM_CACHE)/backups/<stack>), the last
# backup.keep (7) kept; NODE=<manager> backs up on that one (not the leader). `make restore
# BACKUP=<archive>` restores it on the manager it was taken on (`make restore NODE=<manager>`: the
# newest archive taken on that one); then `make up` joins the other nodes again and
# `make verify BACKUP=<archive>` compares.
.PHONY: backup backup-pull restore
backup: venv pulumi-cli
	$(WITH_PULUMI) $(PY) -m tools.backup backup --stack $(STACK) $(if $(NODE),--node '$(NODE)')

backup-pull: venv pulumi-cli
	$(WITH_PULUMI) $(PY) -m tools.backup pull --stack $(STACK)

restore: venv pulumi-cli
	@test -n "$(BACKUP)$(NODE)" || { echo "make restore BACKUP=<archive of make backup> or NODE=<manager> (its newest archive; docs/backup.md)" >&2; exit 2; }
	$(WITH_PULUMI) $(PY) -m tools.backup restore --stack $(STACK) $(if $(BACKUP),"$(BACKUP)") $(if $(NODE),--node '$(NODE)')

# The system packages the tests need (docker.io, shellcheck, openssh-server, Go, ...): installed
# when missing or not fully configured (root; otherwise it says what to run).
.PHONY: test-deps
test-deps:
	tools/test-deps.sh

test: test-deps venv lint go-test
	$(PY) -m pytest -q -rs --tb=short

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-scripts: venv
	$(PY) -m pytest -q tests/scripts

# Integration tests on test hosts (root: namespaces, a bridge, dockerd and sshd per host).
# HS_KEEP_HOSTS=1 keeps the hosts afterwards; `make hosts-down` removes them.
test-integration: venv
	$(PY) -m pytest -q tests/integration

# Test hosts for manual work: `make hosts-up [HOSTS=N]`, then `make hosts-status`, `make hosts-down`.
HOSTS ?= 5
hosts-up: venv
	$(PY) -m tests.support.hosts up $(HOSTS)

hosts-status: venv
	$(PY) -m tests.support.hosts status

hosts-down: venv
	$(PY) -m tests.support.hosts down

# The static checks: ruff (lint and format), mypy --strict (pyproject.toml), shellcheck.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	shellcheck -x ha_swarm/nodes/scripts/*.sh tools/*.sh toolchain/*.sh lab/*.sh .ci/run

# The developer's loop, well under a minute: the static checks and the unit tests (no root, no
# test hosts). The pre-commit hook (.pre-commit-config.yaml) runs the same.
.PHONY: check
check: lint test-unit

bench: venv
	$(PY) -m tests.bench.mocks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Offline toolchain: pulumi CLI, Python language host, resource plugins, Traefik/whoami images.
HA_SWARM_CACHE ?= $(HOME)/.cache/ha-swarm
export HA_SWARM_CACHE

.PHONY: toolchain toolchain-check toolchain-selftest e2e bench-e2e go-test lab-image e2e-lab
toolchain:
	toolchain/build.sh >/dev/null

toolchain-check:
	toolchain/build.sh --check >/dev/null

toolchain-selftest: toolchain venv
	toolchain/selftest.sh

# The whole program for real (issue 6): the toolchain (built if missing, ~40 min the first time),
# then `pulumi up` / preview / destroy through the Automation API on test hosts (root).
# HE_KEEP=1 keeps the hosts and the run's folder.
e2e: toolchain venv
	$(PY) -m pytest -q -rs tests/e2e

# The lab for real (issue 7): the lab image (Debian, cloud-init, docker.io, the toolchain's images
# preloaded; ~2 min the first time), libvirtd started if needed, then 3 VMs under emulation (root).
lab-image: toolchain
	. $(HA_SWARM_CACHE)/toolchain/env.sh && lab/build-image.sh --preload "$$HA_SWARM_TRAEFIK_TAR" "$$HA_SWARM_WHOAMI_TAR" >/dev/null

e2e-lab: lab-image venv
	HA_SWARM_E2E_LAB=1 $(PY) -m pytest -q -rs -s tests/e2e/test_lab.py

# The README's own commands as a newcomer runs them (issue 15): a fresh clone, a fresh HOME, only the
# toolchain cached; `make up` twice, `make verify`, `make destroy` on the dev stack (root, ~30 min).
.PHONY: e2e-newcomer
e2e-newcomer: toolchain venv
	HA_SWARM_E2E_LAB=1 $(PY) -m pytest -q -rs -s tests/e2e/test_make_up.py

bench-e2e: toolchain venv
	$(PY) -m tests.bench.e2e

# How the time grows with the cluster (issue 20, docs/scale.md): 3+2 then 3+20 nodes on test hosts of
# their own (hb-*, 10.231.85.0/24); SCALE_SIZES=2,20 the worker counts, SCALE_PARALLEL=N pulumi's --parallel.
.PHONY: bench-scale
bench-scale: toolchain venv
	$(PY) -m tests.bench.scale

# Go tests of ha-swarm's own provider plugins (toolchain/*-provider) and of whoami-lite, with a Go new
# enough for toolchain/*/go.mod: GO=..., go on PATH or /usr/local/go/bin/go when one is, else Go
# fetched once from the module proxy (toolchain/ensure_go.py, as toolchain/build.sh does).
go-test:
	@go=$$(python3 toolchain/ensure_go.py) && for d in toolchain/*-provider toolchain/whoami-lite toolchain/socket-proxy toolchain/traefik-acme; do ls "$$d"/*_test.go >/dev/null 2>&1 || continue; \
	    echo "go test $$d"; (cd "$$d" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$$go" test -count=1 ./...) || exit 1; done

# The no-change proof (tests/unit/test_no_change.py) compares the resources of three stacks with
# tests/unit/records/. Regenerate the records ONLY when a change of resources is intended (a
# deployed stack would see it on its next preview); say so in the commit.
.PHONY: records
records: venv
	$(PY) -m tests.unit.no_change
