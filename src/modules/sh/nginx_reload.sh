# Tests nginx's configuration, signals its master to reload, and waits
# until the master has started new workers and told every old one to
# leave: only then does nginx serve the new configuration. `nginx -s
# reload` returns before that, and returns 0 even when the master then
# refuses the configuration (a port it cannot bind), keeping the old one.
# Set before: timeout (seconds), prefix (may be empty); "$@" is the nginx
# command line (binary, -p, -c).
out=$("$@" -t 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }

# The directive `pid` in the main context (`nginx -T` prints the whole
# configuration), else the pid path nginx was built with.
built=$("$@" -V 2>&1)
setting() { printf '%s\n' "$built" | tr ' ' '\n' | sed -n "s/^--$1=//p" | head -n 1; }
main_directive() {
  "$@" -T 2>/dev/null | sed -n "s/^[[:space:]]*$directive[[:space:]]\{1,\}\([^;[:space:]]\{1,\}\).*;.*/\1/p" | head -n 1
}
directive=pid; pidfile=$(main_directive "$@")
[ -n "$pidfile" ] || pidfile=$(setting pid-path)
[ -n "$prefix" ] || prefix=$(setting prefix)
absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "${prefix%/}/$1" ;; esac; }
pidfile=$(absolute "${pidfile:-logs/nginx.pid}")
master=$(cat "$pidfile" 2>/dev/null) && [ -n "$master" ] && [ -d "/proc/$master" ] || {
  echo "nginx is not running: no live master in \`$pidfile\`" >&2
  exit 1
}

# "PID TITLE" of each process the master started (workers, cache
# processes); an old worker's title ends in "is shutting down".
children() {
  if [ -r "/proc/$master/task/$master/children" ]; then
    list=$(cat "/proc/$master/task/$master/children")
  else
    list=$(for stat in /proc/[0-9]*/stat; do
      read -r pid _ _ ppid _ < "$stat" 2>/dev/null && [ "$ppid" = "$master" ] && echo "$pid"
    done)
  fi
  for pid in $list; do
    title=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) && printf '%s %s\n' "$pid" "$title"
  done
}
old=" $(children | cut -d' ' -f1 | tr '\n' ' ') "
kill -HUP "$master" || exit 1

tries=$((timeout * 20))
while [ "$tries" -gt 0 ]; do
  sleep 0.05
  [ -d "/proc/$master" ] || { echo "nginx's master $master exited while reloading" >&2; exit 1; }
  new=0 stale=0
  while read -r pid title; do
    [ -n "$pid" ] || continue
    case $old in
      *" $pid "*) case $title in *"shutting down"*) ;; *) stale=$((stale + 1)) ;; esac ;;
      *) new=$((new + 1)) ;;
    esac
  done <<CHILDREN
$(children)
CHILDREN
  if [ "$new" -gt 0 ] && [ "$stale" -eq 0 ]; then
    echo "nginx reloaded: its new workers serve the new configuration"
    exit 0
  fi
  tries=$((tries - 1))
done
echo "nginx kept its old configuration: no new workers within ${timeout}s" >&2
directive=error_log; log=$(main_directive "$@" | cut -d' ' -f1)
[ -n "$log" ] || log=$(setting error-log-path)
log=$(absolute "${log:-logs/error.log}")
[ -r "$log" ] && { echo "its error log \`$log\` ends:"; tail -n 3 "$log"; } >&2
exit 1
