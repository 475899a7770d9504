#!/usr/bin/env bash
# The floor: the benchmark's deploy as one `ssh` per host, all in parallel,
# each piping the `git archive` of HEAD into one remote script. No lock, no
# delta, no barrier (the first host migrates, then switches like the rest).
# A host already on this revision is left alone.
#
# usage (in the app's repository): deploy.sh HOSTS RUN
#   HOSTS: lines of `name address port base_dir`; SSH_KEY and KNOWN_HOSTS
#   name the client key and known_hosts file.
set -euo pipefail
hosts=$1 run=$2
rev=$(git rev-parse HEAD)
release=$(date -u +%Y%m%d%H%M%S)-$(git rev-parse --short HEAD)
archive=$(mktemp)
trap 'rm -f "$archive"' EXIT
git archive --format=tar.gz -o "$archive" HEAD

first=1
while read -r name address port base; do
  migrate=:
  if [ "$first" = 1 ]; then migrate="/usr/bin/python3 manage.py migrate >/dev/null"; fi
  first=0
  d="$base/$run"
  ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile="$KNOWN_HOSTS" -i "$SSH_KEY" -p "$port" "$USER@$address" "
    set -e; d=$d; r=\$d/releases/$release
    if [ \"\$(cat \$d/current/REVISION 2>/dev/null)\" = $rev ]; then cat >/dev/null; exit 0; fi
    mkdir -p \$r \$d/shared/media \$d/shared/db
    touch \$d/shared/.env; chmod 600 \$d/shared/.env
    tar -xz -C \$r
    echo $rev > \$r/REVISION
    for p in .env media db; do ln -s \$d/shared/\$p \$r/\$p; done
    cd \$r; $migrate; /usr/bin/python3 manage.py collectstatic >/dev/null
    ln -sfn \$r \$d/current.new; mv -T \$d/current.new \$d/current
    cd \$d; ls -1d releases/* | head -n -3 | xargs -r rm -rf
  " < "$archive" > /dev/null &
done < "$hosts"

status=0
for job in $(jobs -p); do wait "$job" || status=1; done
exit $status
