#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: uv (from PyPI, for the machine's Python
# 3.11), the locked Python dependencies, the Kafka jars, FerretDB and, for FerretDB's storage,
# the distribution's PostgreSQL. Safe to run again: each step is a no-op once done.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null; then
  log "installing uv from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
fi
for tool in java mvn go; do
  command -v "$tool" >/dev/null || die "$tool is needed (Java 17 runs Kafka, Maven fetches it, Go builds FerretDB)"
done
(cd "$REPO_DIR" && uv sync --frozen --quiet)
"$INFRA_DIR/kafka.sh" fetch
"$INFRA_DIR/ferretdb.sh" fetch
log "bootstrap done"
