# colostack: `make demo` brings the product up on local test hosts, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# netavark + aardvark-dns (+ iptables, which netavark drives): without them Debian 12 falls back
# to CNI, where test hosts cannot resolve each other.
# openssh-client: Ansible and testinfra reach test hosts over SSH; apt-cacher-ng: their package cache;
# procps: pkill, which closes SSH masters left to replaced hosts; podman-compose: the Compose bundle's test.
# prometheus: its promtool runs `promtool test rules` on the alert rules (tests/test_prometheus_rules.py).
APT_PACKAGES := podman runc netavark aardvark-dns iptables mmdebstrap uidmap fuse-overlayfs slirp4netns openssl openssh-client procps apt-cacher-ng redis-server redis-tools chromium prometheus podman-compose
export CONTAINERS_CONF := $(CURDIR)/molecule/images/containers.conf
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_FORCE_COLOR := false
export PY_COLORS := 0

.PHONY: deps venv images hosts-and-venv cache netcheck lint docs check test demo demo-clean clean

deps:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); }

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt constraints.txt python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	$(VENV)/bin/pip install -q -e 'python[cost,control]' -c constraints.txt
	touch $@

images: deps
	molecule/images/build.sh

# Test hosts fetch each .deb from Debian once per machine, through apt-cacher-ng.
cache: deps
	molecule/images/apt-cache.sh

# Fails in seconds, with the fix, when test hosts on one network cannot resolve each other.
netcheck: images
	molecule/images/check-network.sh

lint: venv
	ruff check python bench tests molecule playbooks plugins
	cd python && mypy
	ansible-lint

# Each role README's variable table, from its meta/argument_specs.yml (tests/test_roles.py checks it).
docs: venv
	$(VENV)/bin/python python/tools/role_docs.py

# The quick lane for the edit-test loop: lint, unit and property tests, no test hosts and no
# end-to-end rollouts against the Redfish emulator (make test runs those).
check: deps venv
	$(VENV)/bin/pytest -m 'not molecule and not integration' -n 2 --dist worksteal

# The venv (from PyPI) and the images (from Debian) are made side by side on a fresh machine.
hosts-and-venv: deps
	$(MAKE) --no-print-directory -j2 venv images

# Two workers on 2 cores: Molecule scenarios mostly wait (apt, reboots, timeouts), so they overlap well.
test: hosts-and-venv cache netcheck
	$(VENV)/bin/pytest -n 2 --dist worksteal

# The whole product on two local hosts; the GPU node's driver, vLLM and GPU are STAND-INs.
demo: deps venv cache netcheck
	molecule/images/demo-host.sh up
	ansible-playbook molecule/images/demo-standins.yml -i inventories/demo
	ansible-playbook site.yml -i inventories/demo
	molecule/images/demo-host.sh info

demo-clean:
	molecule/images/demo-host.sh down

clean: demo-clean
	rm -rf $(VENV) .cache
