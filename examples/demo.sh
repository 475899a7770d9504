#!/usr/bin/env bash
# ferry's main job on this machine: boot three fresh Debian servers (web1,
# web2 and db: systemd-nspawn containers with systemd and apt, root logging
# in with a key, nothing else; on 127.8.0.1-3 — loopback only), take them
# to ready with `ferry setup staging` (the deploy user, sudo, SSH, Python,
# nginx, PostgreSQL with the app's database, firewall rules), and deploy a
# bundled example to them with `ferry deploy staging`, as the `deploy`
# user, escalating through sudo.
#
#   bash examples/demo.sh                 # deploy examples/django-notes
#   bash examples/demo.sh flask-hello     # the Flask one, beside it on web1, web2
#   bash examples/demo.sh stop            # shut the servers down
#
# Run it again after changing and committing the example: the second setup
# and deploy of an unchanged commit change nothing. The servers' files live
# in /tmp/ferry-example/servers; the image they boot from is built once into
# target/fleet (Debian 12 from the Debian mirror, ~320 MB), and so is the
# apt repository the servers install from (the packages `ferry setup`
# installs, ~100 MB: the servers' network stays on loopback). Needs root
# (debootstrap, mount, systemd-nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=/tmp/ferry-example
SERVERS=$ROOT/servers
FLEET=$REPO/tests/fleet/fleet
APP=${1:-django-notes}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
alive() { [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

if [ "$(id -u)" != 0 ]; then
  echo "the demo boots containers: run it as root (or try examples/demo-local.sh)" >&2
  exit 1
fi
if [ "$APP" = stop ]; then
  [ -x "$FLEET" ] && "$FLEET" down "$SERVERS"/* 2>/dev/null || true
  echo "the demo servers are shut down (their files stay in $SERVERS)"
  exit 0
fi
if [ ! -d "examples/$APP" ]; then
  echo "no example named $APP: try django-notes or flask-hello" >&2
  exit 2
fi

say "What this machine needs: debootstrap, systemd-nspawn, ssh, git, curl, pip"
missing=
for tool in debootstrap systemd-nspawn ssh ssh-keygen git curl; do
  command -v "$tool" >/dev/null 2>&1 || missing=1
done
python3 -m pip --version >/dev/null 2>&1 || missing=1
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap systemd-container openssh-client git curl python3-pip >/dev/null
fi

say "Building ferry (release)"
cargo build --release --quiet
FERRY=$REPO/target/release/ferry

say "The app's Python packages, fetched once into target/wheelhouse"
python3 -m pip download -q --disable-pip-version-check --dest target/wheelhouse \
  -r tests/apps/requirements.txt
WHEELS=$REPO/target/wheelhouse

say "The servers' image and apt repository (built once into target/fleet)"
image=$("$FLEET" image)
repo=$("$FLEET" repo)
echo "  image: $image"
echo "  apt:   $repo"

say "Booting fresh web1, web2 and db on 127.8.0.1-3 (root and its key, nothing else)"
mkdir -p "$ROOT/home/.ssh" "$SERVERS"
chmod 700 "$ROOT/home/.ssh"
[ -f "$ROOT/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ferry-demo -f "$ROOT/id_ed25519"
n=0
for server in web1 web2 db; do
  n=$((n + 1))
  if ! alive "$SERVERS/$server"; then
    mkdir -p "$SERVERS/$server"
    # The servers outlive this script: `stop` shuts them down.
    FLEET_FRESH=1 FLEET_REPO=$repo FLEET_BIND=$WHEELS setsid "$FLEET" boot "$SERVERS/$server" "$server" "127.8.0.$n" \
      "$image" "$ROOT/id_ed25519.pub" >"$SERVERS/$server.log" 2>&1 </dev/null &
  fi
done
: >"$ROOT/home/.ssh/known_hosts"
n=0
for server in web1 web2 db; do
  n=$((n + 1))
  for _ in $(seq 300); do
    # Whole: ssh-keygen may still be writing it.
    grep -qs '^ssh-ed25519 [^ ]' "$SERVERS/$server/ssh_host_ed25519_key.pub" && break
    sleep 0.1
  done
  echo "127.8.0.$n $(cut -d' ' -f1-2 "$SERVERS/$server/ssh_host_ed25519_key.pub")" >>"$ROOT/home/.ssh/known_hosts"
done
as_root() {
  ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile="$ROOT/home/.ssh/known_hosts" \
    -i "$ROOT/id_ed25519" "root@$1" "${@:2}"
}
n=0
for server in web1 web2 db; do
  n=$((n + 1))
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.8.0.$n/22") 2>/dev/null && break
    alive "$SERVERS/$server" || { cat "$SERVERS/$server.log" >&2; exit 1; }
    sleep 0.1
  done
  state=$(as_root "127.8.0.$n" systemctl is-system-running --wait || true)
  if [ "$state" = degraded ]; then
    # A unit that timed out while booting (on a loaded machine): say which,
    # and start it again once, as an administrator would.
    failed=$(as_root "127.8.0.$n" systemctl --failed --plain --no-legend | cut -d' ' -f1 | tr '\n' ' ')
    as_root "127.8.0.$n" "systemctl restart $failed" || true
    state="$(as_root "127.8.0.$n" systemctl is-system-running || true) (restarted $failed)"
  fi
  echo "  $server: 127.8.0.$n, systemd $state"
done

# The stage's secrets stay out of git: made on first use.
secrets=examples/$APP/secrets/staging.yml
if [ ! -f "$secrets" ]; then
  mkdir -p "$(dirname "$secrets")"
  random() { head -c 36 /dev/urandom | base64 | tr -d '/+='; }
  (
    umask 077
    printf '# Secrets of the `staging` stage (kept out of git).\nsecret_key: %s\n' "$(random)" >"$secrets"
    if [ "$APP" = django-notes ]; then
      printf 'database_url: postgres://notes:%s@127.8.0.3:5432/notes\n' "$(random)" >>"$secrets"
    fi
  )
fi

# ferry reads ~/.ssh/known_hosts: these servers' keys are in the demo's own.
ferry() { HOME=$ROOT/home "$FERRY" -C "examples/$APP" "$@"; }
extra="{pip_args: '--no-index --find-links $WHEELS'}"

say "ferry setup staging   (as root: fresh servers to ready; again, it changes nothing)"
ferry setup staging

say "ferry plan staging --offline   (what will run, host by host: the first steps)"
ferry plan staging --offline -e "$extra" >"$ROOT/plan-$APP.txt"
head -n 24 "$ROOT/plan-$APP.txt"
echo "  … (all of it in $ROOT/plan-$APP.txt)"

say "ferry deploy staging"
ferry deploy staging -e "$extra"

say "ferry releases staging"
ferry releases staging

site=$([ "$APP" = django-notes ] && echo notes.test || echo flask.test)
say "Serving (nginx on each web server, site $site)"
for n in 1 2; do
  # nginx may still be swapping in its new workers for a moment after the
  # deploy's reload: ask until the site answers.
  for _ in $(seq 20); do
    body=$(curl -s -H "Host: $site" "http://127.8.0.$n/") && [ -n "$body" ] && break
    sleep 0.25
  done
  echo "  http://127.8.0.$n/ (Host: $site)  $body"
done
cat <<EOF

Where to look (log in as root or deploy with the demo's key):
  ssh -i $ROOT/id_ed25519 -o UserKnownHostsFile=$ROOT/home/.ssh/known_hosts deploy@127.8.0.1
  /home/deploy/$APP/current        the release being served (a symlink into releases/)
  /home/deploy/$APP/releases/      one directory per deploy; .ferry/history.log beside them
  /home/deploy/$APP/shared/.env    the app's settings and secrets (mode 0600)
  systemctl status '$APP-*'        its processes, as systemd units (journalctl -u $APP-web-1)
  /etc/nginx/sites-enabled/$APP.conf

Run ferry yourself against these servers (HOME holds their host keys):
  HOME=$ROOT/home $FERRY -C examples/$APP setup staging
  HOME=$ROOT/home $FERRY -C examples/$APP deploy staging -e "$extra"
  HOME=$ROOT/home $FERRY -C examples/$APP releases staging
  HOME=$ROOT/home $FERRY -C examples/$APP rollback staging
Shut the servers down: bash examples/demo.sh stop
EOF
