#!/usr/bin/env bash
# The docker-compose MongoDB (mongo image): a one-node replica set with access control on. A
# replica set with authorization needs a key file for its members' own authentication; this
# makes one, once, in the config volume, then hands over to the image's entrypoint, which creates
# the root user and runs infra/mongo-init.js (one user per service) when the data volume is new.
set -euo pipefail
keyfile=/data/configdb/eci-replica.key
if [[ ! -s "$keyfile" ]]; then
  # 512 random bytes in base64: 684 characters of the set a key file may hold.
  (umask 077 && head -c 512 /dev/urandom | base64 -w0 >"$keyfile")
fi
chmod 400 "$keyfile"
chown mongodb:mongodb "$keyfile"
exec docker-entrypoint.sh "$@"
