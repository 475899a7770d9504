#!/usr/bin/env bash
# ferry's main job on this machine: start three local hosts (an sshd and a
# supervisord each, on 127.0.0.1, 127.0.0.2 and 127.0.0.3 — loopback only)
# and deploy a bundled example app to them with `ferry deploy local`.
#
#   bash examples/demo-local.sh                 # deploy examples/django-notes
#   bash examples/demo-local.sh flask-hello     # or the Flask one
#   bash examples/demo-local.sh stop            # stop the hosts this script started
#
# Run it again after changing and committing the example: the second deploy
# of an unchanged commit changes nothing. Everything lives in
# /tmp/ferry-example; the hosts log you in as yourself with a key made here.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=/tmp/ferry-example
APP=${1:-django-notes}

# Stops what a previous run started, by the PIDs it recorded.
# supervisord stops the apps (gracefully) before it exits: wait for that.
stop_hosts() {
  for pidfile in "$ROOT"/web*/sshd.pid "$ROOT"/web*/supervisor/supervisord.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$pidfile"
  done
}
if [ "$APP" = stop ]; then
  stop_hosts
  echo "stopped the demo hosts (their files stay in $ROOT)"
  exit 0
fi
if [ ! -d "examples/$APP" ]; then
  echo "no example named $APP: try django-notes or flask-hello" >&2
  exit 2
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

say "What the hosts need: sshd, supervisor, python3-venv, git, curl"
missing=
for tool in /usr/sbin/sshd supervisord git curl; do
  command -v "$tool" >/dev/null 2>&1 || missing=1
done
python3 -c 'import ensurepip' 2>/dev/null || missing=1
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install as root: apt-get install openssh-server supervisor python3-venv git curl" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openssh-server openssh-client supervisor python3-venv python3-pip git curl >/dev/null
fi

say "Building ferry (release)"
cargo build --release --quiet
FERRY=$REPO/target/release/ferry

say "The app's Python packages, fetched once into target/wheelhouse"
python3 -m pip download -q --disable-pip-version-check --dest target/wheelhouse \
  -r tests/apps/requirements.txt

say "Starting three hosts on 127.0.0.1-3 (ports 2201-2203)"
mkdir -p "$ROOT/home/.ssh" /run/sshd 2>/dev/null || mkdir -p "$ROOT/home/.ssh"
[ -f "$ROOT/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ferry-demo -f "$ROOT/id_ed25519"
cp "$ROOT/id_ed25519.pub" "$ROOT/authorized_keys"
: >"$ROOT/home/.ssh/known_hosts"
for n in 1 2 3; do
  host=$ROOT/web$n
  address=127.0.0.$n
  port=220$n
  mkdir -p "$host/supervisor/conf.d"
  [ -f "$host/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$host/host_ed25519"
  cat >"$host/sshd_config" <<EOF
ListenAddress $address:$port
HostKey $host/host_ed25519
PidFile $host/sshd.pid
AuthorizedKeysFile $ROOT/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
  if ! alive "$host/sshd.pid"; then
    /usr/sbin/sshd -f "$host/sshd_config" -E "$host/sshd.log"
  fi
  echo "[$address]:$port $(cut -d' ' -f1-2 "$host/host_ed25519.pub")" >>"$ROOT/home/.ssh/known_hosts"
  s=$host/supervisor
  cat >"$s/supervisord.conf" <<EOF
[unix_http_server]
file=$s/supervisor.sock
[supervisord]
logfile=$s/supervisord.log
pidfile=$s/supervisord.pid
childlogdir=$s
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$s/supervisor.sock
[include]
files = $s/conf.d/*.conf
EOF
  if ! alive "$s/supervisord.pid"; then
    supervisord -c "$s/supervisord.conf"
  fi
  echo "  web$n: sshd on $address:$port, supervisord with $s/supervisord.conf"
done
for _ in $(seq 50); do
  ok=1
  for n in 1 2 3; do
    [ -S "$ROOT/web$n/supervisor/supervisor.sock" ] || ok=
    (exec 3<>"/dev/tcp/127.0.0.$n/220$n") 2>/dev/null || ok=
  done
  [ -n "$ok" ] && break
  sleep 0.2
done

# The stage's secrets stay out of git: make them on first use.
secrets=examples/$APP/secrets/local.yml
if [ ! -f "$secrets" ]; then
  mkdir -p "$(dirname "$secrets")"
  (umask 077 && printf '# Secrets of the `local` stage (kept out of git).\nsecret_key: %s\n' \
    "$(head -c 36 /dev/urandom | base64 | tr -d '/+=')" >"$secrets")
fi

# ferry reads ~/.ssh/known_hosts: these hosts' keys are in the demo's own.
ferry() { HOME=$ROOT/home "$FERRY" -C "examples/$APP" "$@"; }
extra="{pip_args: '--no-index --find-links $REPO/target/wheelhouse'}"

say "ferry plan local --offline   (what will run, host by host: the first steps)"
ferry plan local --offline -e "$extra" >"$ROOT/plan.txt"
head -n 24 "$ROOT/plan.txt"
echo "  … (all of it in $ROOT/plan.txt)"

say "ferry deploy local"
ferry deploy local -e "$extra"

say "ferry releases local"
ferry releases local

port=$(sed -n 's/^ *procfile_port: *//p' "examples/$APP/inventory/local.yml")
say "Serving"
for n in 1 2 3; do
  for p in "$port" $((port + 1)); do
    echo "  http://127.0.0.$n:$p/  $(curl -s "http://127.0.0.$n:$p/")"
  done
done
cat <<EOF

Where to look:
  $ROOT/web1/$APP/current        the release being served (a symlink into releases/)
  $ROOT/web1/$APP/releases/      one directory per deploy; .ferry/history.log beside them
  $ROOT/web1/$APP/shared/.env    the app's settings and secrets (mode 0600)
  $ROOT/web1/$APP/shared/log/    the app's logs
  $ROOT/web1/sshd.log            the host's sshd

Run ferry yourself against these hosts (HOME holds their host keys):
  HOME=$ROOT/home $FERRY -C examples/$APP deploy local -e "$extra"
  HOME=$ROOT/home $FERRY -C examples/$APP releases local
  HOME=$ROOT/home $FERRY -C examples/$APP rollback local
Stop the hosts: bash examples/demo-local.sh stop
EOF
