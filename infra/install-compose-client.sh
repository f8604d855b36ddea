#!/usr/bin/env bash
# Installs a Docker Compose v2 client (no engine) from Debian's packages, so that tests can check
# `docker compose config` on machines without Docker. Debian 12 ships only the old v1 client; the
# v2 package of Debian 13 depends on libc alone and installs as is. It is fetched through the
# machine's own Debian source with the suite swapped, without touching the system's sources.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if docker compose version >/dev/null 2>&1 || docker-compose version 2>/dev/null | grep -q 'v2\|2\.'; then
  exit 0
fi
sources=/etc/apt/sources.list.d/debian.sources
[[ -r "$sources" ]] || die "no $sources: install a Docker Compose v2 client by other means"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial"
awk '/^Suites:/{print "Suites: trixie"; next} {print} /^$/{exit}' "$sources" >"$work/parts/trixie.sources"
opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
apt-get "${opts[@]}" update -qq
(cd "$work" && apt-get "${opts[@]}" download docker-compose=2.26.1-4 >/dev/null)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$work"/docker-compose_2.26.1-4_*.deb >/dev/null
log "docker compose client: $(docker-compose version --short 2>/dev/null || echo installed)"
