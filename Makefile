# One task runner for people and CI (.ci/run calls these recipes).
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := uv

.PHONY: help bootstrap infra-up infra-down run stop status lint contracts compat typecheck unit test clean

help: ## list the recipes
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

bootstrap: ## install uv, the Python dependencies, the Kafka jars and FerretDB (cached)
	@infra/bootstrap.sh

infra-up: bootstrap ## start Kafka and FerretDB and declare the topics
	@infra/up.sh

infra-down: ## stop Kafka, FerretDB and its PostgreSQL
	@infra/down.sh

# `make run` runs Kafka with SASL/SCRAM and the ACLs, as compose does, so that no local client
# reads the contacts topic without an account; `make run KAFKA_SASL=0` runs it PLAINTEXT, for
# debugging. `make test` keeps a PLAINTEXT broker (docs/operations.md says why).
run: export KAFKA_SASL := $(if $(KAFKA_SASL),$(KAFKA_SASL),1)
run: infra-up ## run the whole system locally with demo data (KAFKA_SASL=0: Kafka without SASL)
	@infra/services.sh start
	@infra/services.sh demo
	@echo
	@echo "  registry       http://127.0.0.1:$${REGISTRY_HTTP_PORT:-8001}/docs"
	@echo "  projects       http://127.0.0.1:$${PROJECTS_HTTP_PORT:-8002}/docs"
	@echo "  notifications  http://127.0.0.1:$${NOTIFICATIONS_HTTP_PORT:-8003}/docs"
	@echo "  tokens         source .infra/demo-credentials.sh"
	@echo "  kafka          $$(infra/kafka.sh bootstrap) ($$(infra/kafka.sh mode); admin client config: infra/kafka.sh admin-config)"
	@echo "  staff inbox    curl -H \"Authorization: Bearer \$$ECI_STAFF_TOKEN\" http://127.0.0.1:$${NOTIFICATIONS_HTTP_PORT:-8003}/notifications"
	@echo "  logs           .infra/services/*.log    stop with: make stop"

stop: ## stop the services and the infrastructure
	@infra/services.sh stop
	@infra/down.sh

status: ## what runs
	@infra/kafka.sh status || true
	@infra/ferretdb.sh status || true
	@infra/postgres.sh status || true
	@infra/services.sh status || true

lint: ## ruff (check and format), the committed event contracts and docs/configuration.md match the code, contracts stay compatible
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen python -m eci_common.schemas --check
	$(UV) run --frozen python -m eci_tools.configuration_doc --check
	@$(MAKE) --no-print-directory compat

compat: ## no breaking change to any event contract committed up to origin/main (else HEAD); REF=<ref> to choose
	$(UV) run --frozen python -m eci_common.compatibility --history $(if $(REF),--against $(REF))

contracts: ## regenerate the committed JSON Schemas from the event models
	$(UV) run --frozen python -m eci_common.schemas

typecheck: ## mypy strict on libs/ and services/
	$(UV) run --frozen mypy libs/common/src services/registry/src services/projects/src services/notifications/src tools/src

unit: bootstrap ## unit tests only (no broker, no database)
	$(UV) run --frozen pytest tests/unit

test: export KAFKA_SASL := 0
test: infra-up lint typecheck ## the whole check: lint, types, every test on the real broker and database
	KAFKA_BOOTSTRAP_SERVERS=$${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$${KAFKA_PORT:-9092}} \
	MONGODB_URI=$${MONGODB_URI:-mongodb://127.0.0.1:$${FERRETDB_PORT:-27017}/} \
	$(UV) run --frozen pytest

clean: ## stop everything and delete local data
	-@infra/services.sh stop
	@infra/down.sh --purge
