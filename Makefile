# Two commands a new machine needs: `make plan` (the offline plan of staging, policy gate
# included) and `make test` (lint, strict types, tests). Both build the virtualenv first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK ?= staging

.PHONY: plan plan-all test lint typecheck unit gates promtool clean

$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

plan: $(STAMP)
	$(BIN)/python -m tools.plan --stack $(STACK) --json build/$(STACK)/plan.json

plan-all: $(STAMP)
	$(BIN)/python -m tools.plan --stack staging --json build/staging/plan.json
	$(BIN)/python -m tools.plan --stack prod --json build/prod/plan.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/pyright

unit: $(STAMP) promtool
	$(BIN)/pytest

# promtool (Debian's prometheus package) checks and unit-tests the alert rules. A fresh machine
# gets it here, through sudo unless this already runs as root, so `make test` needs nothing
# installed beforehand.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
promtool:
	@command -v promtool >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
		prometheus; }
	promtool --version

# The pack must catch every insecure mutation of the prod plan; every Kubernetes object and
# IAM document must pass the tool that owns its format.
gates: $(STAMP)
	$(BIN)/python -m tools.mutate --stack prod
	$(BIN)/python -m tools.validate --stack staging
	$(BIN)/python -m tools.validate --stack prod

test: lint typecheck unit plan-all gates

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
