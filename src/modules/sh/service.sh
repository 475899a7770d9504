# Functions for the `service` module. Set before: name manager unit
# supervisorctl pidfiles serves wait.
alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in Z*) return 1 ;; esac
}
pick_manager() {
  [ "$manager" = auto ] || return 0
  if [ -d /run/systemd/system ] && systemctl cat -- "$unit" >/dev/null 2>&1; then
    manager=systemd
  elif command -v ${supervisorctl%% *} >/dev/null 2>&1; then
    manager=supervisor
  else
    echo "no process manager found for $name: neither a systemd unit nor supervisorctl" >&2
    exit 1
  fi
}
# The pidfile of each master the patterns in $pidfiles name. While an
# upgrade hands over, the old master has renamed PIDFILE to .oldbin and the
# new one writes PIDFILE.2, so a pattern like `web-*.pid` may match nothing:
# the .2 files count too.
masters() {
  set -f
  for pat in $pidfiles; do
    set +f
    for f in $pat $pat.2; do [ -f "$f" ] && printf '%s\n' "${f%.2}"; done
    set -f
  done | sort -u
  set +f
}
pids() {
  if [ -n "$pidfiles" ]; then
    # A master upgraded with USR2 writes PIDFILE.2 until the old one it
    # replaces has drained and left.
    for f in $(masters); do
      if [ -f "$f.2" ] && alive "$(cat "$f.2" 2>/dev/null)"; then cat "$f.2"; elif [ -f "$f" ]; then cat "$f"; fi
    done
  elif [ "$manager" = systemd ]; then
    case $unit in
      *.target) units=$(systemctl list-dependencies --plain --no-legend -- "$unit" | sed 1d) ;;
      *) units=$unit ;;
    esac
    for u in $units; do systemctl show -p MainPID --value -- "$u"; done | grep -v '^0$'
  else
    # `supervisorctl pid` takes one program, not `group:*`: read the pids of
    # every matching program from `status` instead.
    $supervisorctl status "$name" 2>/dev/null | sed -n 's/.* RUNNING  *pid \([0-9][0-9]*\),.*/\1/p'
  fi
}
running() {
  if [ "$manager" = systemd ]; then
    systemctl is-active --quiet -- "$unit"
  else
    out=$($supervisorctl status "$name" 2>&1)
    [ -n "$out" ] && ! printf '%s\n' "$out" | grep -qv ' RUNNING '
  fi
}
none_running() {
  if [ "$manager" = systemd ]; then
    ! systemctl is-active --quiet -- "$unit"
  else
    ! $supervisorctl status "$name" 2>&1 | grep -q ' RUNNING '
  fi
}
serving() {
  [ -z "$serves" ] && return 0
  want=$(readlink -f -- "$serves") && n=0
  for p in $(pids); do
    alive "$p" && [ "$(readlink "/proc/$p/cwd")" = "$want" ] || return 1
    n=$((n + 1))
  done
  [ "$n" -gt 0 ]
}
# Waits until the service runs and serves the wanted release.
settle() {
  i=0
  until running && serving; do
    i=$((i + 1))
    if [ "$i" -gt $((wait * 5)) ]; then
      echo "$name is not serving $(readlink -f -- "$serves" 2>/dev/null) after ${wait}s:" >&2
      for p in $(pids); do echo "  pid $p runs in $(readlink "/proc/$p/cwd" 2>/dev/null || echo '(gone)')" >&2; done
      [ "$manager" = systemd ] || $supervisorctl status "$name" >&2
      exit 1
    fi
    sleep 0.2
  done
}
control() {
  if [ "$manager" = systemd ]; then
    systemctl "$1" -- "$unit"
  else
    case $1 in
      reload) $supervisorctl signal HUP "$name" ;;
      *) $supervisorctl "$1" "$name" ;;
    esac >&2
  fi
}
children() {
  grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null
}
# Whether the worker at /proc/PID has loaded the app and serves: gunicorn
# (20.1 and later) stamps each worker's heartbeat file with the monotonic
# clock (seconds since boot) from its first turn of the serving loop, after
# the app is imported; until then the file has its creation time. Status 2:
# no heartbeat file found (another server, or an older gunicorn).
booted() {
  for fd in "$1"/fd/*; do
    case $(readlink "$fd" 2>/dev/null) in
      */wgunicorn-*)
        t=$(stat -L -c %Y "$fd" 2>/dev/null) || return 1
        [ "$t" -lt 1000000000 ]
        return
        ;;
    esac
  done
  return 2
}
# Whether the new master $1 serves: it has at least $2 workers (the old
# one's count), or as many as it had 5 checks ago, and every one of them
# has loaded the app.
serves_new() {
  n=0
  for st in $(children "$1"); do
    booted "${st%/status}"
    case $? in
      0) n=$((n + 1)) ;;
      # No heartbeat to read: a worker that still runs after a second counts.
      2) [ "$unknown" -ge 20 ] && n=$((n + 1)) || { unknown=$((unknown + 1)); return 1; } ;;
      *) return 1 ;;
    esac
  done
  [ "$n" -gt 0 ] || return 1
  [ "$n" = "$last" ] && steady=$((steady + 1)) || steady=0
  last=$n
  [ "$n" -ge "$2" ] || [ "$steady" -ge 5 ]
}
# An upgrade still in progress for some master: an old one draining
# (PIDFILE.oldbin) or a new one not yet promoted (PIDFILE.2).
pending() {
  set -f
  for pat in $pidfiles; do
    set +f
    for x in $pat.2 $pat.oldbin; do
      [ -f "$x" ] && alive "$(cat "$x" 2>/dev/null)" && return 0
    done
    set -f
  done
  set +f
  return 1
}
# gunicorn's zero-downtime upgrade of the master named by pidfile $1: USR2
# starts a new master from the current release beside the old one (which
# renames its pidfile to .oldbin; the new one writes .2); once every new
# worker has loaded the app, TERM tells the old master to finish its
# requests and leave — in the background: the next upgrade waits for it.
upgrade_one() {
  f=$1
  old=$(cat "$f" 2>/dev/null)
  want=$(children "$old" | wc -l)
  kill -USR2 "$old"
  i=0 unknown=0 steady=0 last=
  while :; do
    new=$(cat "$f.2" 2>/dev/null)
    if [ -n "$new" ] && [ "$new" != "$old" ] && alive "$new" && serves_new "$new" "$want"; then
      break
    fi
    i=$((i + 1))
    if [ "$i" -gt $((wait * 20)) ] || ! alive "$old"; then
      echo "the new $name master did not come up in ${wait}s; the old one (pid $old) keeps serving" >&2
      [ -n "$new" ] && alive "$new" && kill -QUIT "$new"
      exit 1
    fi
    sleep 0.05
  done
  kill -TERM "$old"
}
# Every master at once: they are independent.
upgrade() {
  i=0
  while pending; do
    i=$((i + 1))
    if [ "$i" -gt $((wait * 20)) ]; then
      echo "the last upgrade of $name has not finished in ${wait}s (an old master is still draining)" >&2
      exit 1
    fi
    sleep 0.05
  done
  for f in $pidfiles; do
    if ! alive "$(cat "$f" 2>/dev/null)"; then control restart; settle; return; fi
  done
  started=
  for f in $pidfiles; do
    upgrade_one "$f" &
    started="$started $!"
  done
  failed=0
  for p in $started; do wait "$p" || failed=1; done
  [ "$failed" = 0 ] || exit 1
  settle
}
