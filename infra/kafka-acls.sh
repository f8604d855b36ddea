#!/usr/bin/env bash
# Creates or updates the Kafka accounts of kafka-accounts.conf and grants each the rights of its
# role in kafka-acls.conf, as the admin account, idempotently (run it again after a change).
#
#   kafka-acls.sh BOOTSTRAP ADMIN_CLIENT_PROPERTIES [ACCOUNTS] [ACLS]
#
# Each account gets SCRAM-SHA-512 and SCRAM-SHA-256 credentials with the password of its variable
# (which must be set: no default here). Rights are only ever added: a right taken out of
# kafka-acls.conf must also be removed by hand (docs/operations.md says how).
# KAFKA_CONFIGS_CMD and KAFKA_ACLS_CMD are the kafka-configs and kafka-acls commands:
# /opt/kafka/bin/kafka-{configs,acls}.sh in the apache/kafka image (docker-compose),
# `infra/kafka.sh configs-command|acls-command` locally.
set -euo pipefail
bootstrap=${1:?bootstrap servers}
admin_config=${2:?admin client properties}
here=$(dirname "$0")
accounts=${3:-$here/kafka-accounts.conf}
acls=${4:-$here/kafka-acls.conf}
configs_cmd=${KAFKA_CONFIGS_CMD:-kafka-configs.sh}
acls_cmd=${KAFKA_ACLS_CMD:-kafka-acls.sh}

die() { printf '[acls] error: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

# One pass over the declarations first, so that a missing password fails before any change.
declare -a names=()
declare -A roles=() groups=() passwords=()
while read -r account role group variable _; do
  [[ -z "$account" || "$account" == \#* ]] && continue
  [[ -n "${variable:-}" ]] || die "$accounts: '$account' needs a role, a group prefix and a password variable"
  password=${!variable:-}
  [[ -n "$password" ]] || die "$variable is not set (the password of Kafka account $account)"
  [[ "$password" =~ ^[A-Za-z0-9._~+/-]{8,}$ ]] ||
    die "$variable: use at least 8 of A-Z a-z 0-9 . _ ~ + / -"
  grep -qE "^$role[[:space:]]" "$acls" || die "$accounts: role '$role' of '$account' has no rights in $acls"
  names+=("$account")
  roles[$account]=$role
  groups[$account]=$group
  passwords[$account]=$password
done <"$accounts"

apply() { # account: its credentials, then its role's rights
  local account=$1 mechanism role operations resource pattern name batch op
  local scram="$work/$account.scram"
  # From a file rather than the command line, so that no process listing shows the password. In a
  # file the value takes no brackets, and one request may alter one mechanism of a user only.
  for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
    printf '%s=password=%s\n' "$mechanism" "${passwords[$account]}" >"$scram"
    $configs_cmd --bootstrap-server "$bootstrap" --command-config "$admin_config" --alter \
      --entity-type users --entity-name "$account" --add-config-file "$scram" >/dev/null
  done
  rm -f "$scram"

  # The role's rights, one kafka-acls call per (operations, resource type, pattern type).
  local -A batches=()
  while read -r role operations resource pattern name _; do
    [[ -z "$role" || "$role" == \#* || "$role" != "${roles[$account]}" ]] && continue
    if [[ "$name" == "{group}" ]]; then
      [[ "${groups[$account]}" != "-" ]] || die "$account has no group prefix, but role $role reads with a group"
      name=${groups[$account]}
    fi
    batches["$operations $resource $pattern"]+=" --$resource $name"
  done <"$acls"
  for batch in "${!batches[@]}"; do
    read -r operations resource pattern <<<"$batch"
    local args=(--bootstrap-server "$bootstrap" --command-config "$admin_config" --add
      --allow-principal "User:$account" --resource-pattern-type "$pattern")
    local ops=()
    IFS=',' read -ra ops <<<"$operations"
    for op in "${ops[@]}"; do args+=(--operation "$op"); done
    # shellcheck disable=SC2206 # names have no spaces: split "--topic a --topic b"
    args+=(${batches[$batch]})
    $acls_cmd "${args[@]}" >/dev/null
  done
}

# The accounts in parallel: each tool call is a JVM start, and they are independent.
declare -A jobs=()
for account in "${names[@]}"; do
  apply "$account" &
  jobs[$account]=$!
done
failed=()
for account in "${names[@]}"; do
  wait "${jobs[$account]}" || failed+=("$account")
done
((${#failed[@]} == 0)) || die "could not apply the accounts ${failed[*]} on $bootstrap"
echo "[acls] ${#names[@]} accounts and their rights applied on $bootstrap" >&2
