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
pids() {
  if [ -n "$pidfiles" ]; then
    for f in $pidfiles; do [ -f "$f" ] && cat "$f"; done
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
# gunicorn's zero-downtime upgrade, one master at a time: USR2 starts a new
# master from the current release beside the old one (which renames its
# pidfile to .oldbin; the new one writes .2); once the new master has its
# workers up, TERM lets the old one finish its requests and leave.
upgrade() {
  for f in $pidfiles; do
    old=$(cat "$f" 2>/dev/null)
    if ! alive "$old"; then control restart; settle; return; fi
    kill -USR2 "$old"
    i=0
    while :; do
      new=$(cat "$f.2" 2>/dev/null)
      if [ -n "$new" ] && [ "$new" != "$old" ] && alive "$new" && [ -n "$(children "$new")" ]; then
        sleep 1
        alive "$new" && [ -n "$(children "$new")" ] && break
      fi
      i=$((i + 1))
      if [ "$i" -gt $((wait * 5)) ] || ! alive "$old"; then
        echo "the new $name master did not come up in ${wait}s; the old one (pid $old) keeps serving" >&2
        [ -n "$new" ] && alive "$new" && kill -QUIT "$new"
        exit 1
      fi
      sleep 0.2
    done
    kill -TERM "$old"
    i=0
    while alive "$old" || [ "$(cat "$f" 2>/dev/null)" != "$new" ]; do
      i=$((i + 1))
      if [ "$i" -gt $((wait * 5)) ]; then
        echo "the old $name master (pid $old) did not hand over in ${wait}s" >&2
        exit 1
      fi
      sleep 0.2
    done
  done
  settle
}
