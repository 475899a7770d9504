#!/usr/bin/env bash
# The floor for trivial steps: per host, in parallel, one ControlMaster
# connection, then STEPS × `ssh -S master host true` one after another.
#
# usage: steps.sh HOSTS STEPS   (HOSTS as for deploy.sh; SSH_KEY, KNOWN_HOSTS)
set -euo pipefail
hosts=$1 steps=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

one_host() {
  local name=$1 address=$2 port=$3 sock="$dir/$1.sock"
  local ssh=(ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes
    -o UserKnownHostsFile="$KNOWN_HOSTS" -i "$SSH_KEY" -p "$port" -S "$sock")
  "${ssh[@]}" -M -N -f -o ControlPersist=60 "$USER@$address"
  for _ in $(seq "$steps"); do "${ssh[@]}" "$USER@$address" true; done
  "${ssh[@]}" -O exit "$USER@$address" 2>/dev/null
}

while read -r name address port _; do
  one_host "$name" "$address" "$port" < /dev/null &
done < "$hosts"

status=0
for job in $(jobs -p); do wait "$job" || status=1; done
exit $status
