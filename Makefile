# Two commands from a fresh clone with only python3.11: `make chat` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: chat test lint bench install clean pg scale-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/influbot train
	touch $(STAMP)

install: $(STAMP)

chat: $(STAMP)
	$(BIN)/influbot chat

# PostgreSQL server binaries for the tests (they start a throwaway server on 127.0.0.1 themselves).
pg:
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: $(STAMP) pg
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/hadolint Dockerfile
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests

bench: $(STAMP)
	$(BIN)/influbot bench

# 10,000 webhook updates from 500 users through 3 workers on PostgreSQL, one worker SIGKILLed; then 1, 2, 4 workers.
scale-test: $(STAMP) pg
	$(BIN)/python -m tests.scale_test

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache

# Optional Rasa NLU backend (INFLUBOT_NLU=rasa). Needs the venv from ../shared/tools/rasa/install.sh.
# The model is written outside the repo (RASA_MODELS), so nothing needs ignoring.
RASA_VENV ?= /tmp/rasa-venv
RASA_MODELS ?= /tmp/influbot-rasa-models
RASA_TOOLS ?= $(abspath ../shared/tools/rasa)

.PHONY: rasa-model bench-rasa

rasa-model:
	@test -x $(RASA_VENV)/bin/rasa || { echo "no Rasa in $(RASA_VENV): run $(RASA_TOOLS)/install.sh"; exit 1; }
	RASA_TELEMETRY_ENABLED=false RASA_CACHE_DIRECTORY=$(RASA_MODELS)/cache TF_CPP_MIN_LOG_LEVEL=2 \
		$(RASA_VENV)/bin/rasa train nlu --nlu intents -c rasa/config.yml --out $(RASA_MODELS) --fixed-model-name influbot-nlu
	@echo "model: $(RASA_MODELS)/influbot-nlu.tar.gz; serve: $(RASA_VENV)/bin/rasa run --enable-api -m $(RASA_MODELS)/influbot-nlu.tar.gz -i 127.0.0.1 -p 5005"

bench-rasa: $(STAMP)
	RASA_VENV=$(RASA_VENV) RASA_TOOLS=$(RASA_TOOLS) $(BIN)/python -m bot.bench_rasa
