# ferry's remote shell: one per host, so the login shell and its rc files
# start once, not once per command. Read by the launcher with `head -c`.
# Each request is a line `TOKEN LINES STDIN` (STDIN is a byte count, or `-`
# for none), then the command's LINES lines, then its STDIN bytes. The
# command runs in a session of its own (its process group, so a timeout
# stops all of it), never reads the next request: its stdin is /dev/null or
# exactly its own bytes (drained if it exits before reading them all). Its
# end is `TOKEN STATUS` on stdout and `TOKEN` on stderr, right after its
# last byte of output, newline or not.
exec 3<&0
# Commands run in the login shell, as sshd runs them on a channel of their
# own. bash reads no rc file then: it sources `.bashrc` for sshd only at
# the first shell level, which the login shell that started this one took
# (its `exec` gave it back: taken again here).
sh=${SHELL:-/bin/sh}
case ${SHLVL:-0} in 0) SHLVL=1 && export SHLVL ;; esac
nl='
'
p=
trap 'test -n "$p" && kill -TERM -- "-$p" 2>/dev/null; exit 143' TERM HUP
command -v setsid >/dev/null 2>&1 && command -v head >/dev/null 2>&1 || exit 97
printf '%s\n' "$1"
printf '%s\n' "$1" >&2
while IFS=' ' read -r t n i; do
  s=
  while [ "$n" -gt 0 ]; do
    IFS= read -r l || exit 98
    s=$s$l$nl
    n=$((n - 1))
  done
  if [ "$i" = - ]; then
    setsid "$sh" -c "$s" </dev/null 3<&- &
  else
    head -c "$i" <&3 | setsid "$sh" -c '(eval "$1"); r=$?; cat >/dev/null; exit "$r"' sh "$s" 3<&- &
  fi
  p=$!
  wait "$p"
  r=$?
  p=
  printf '%s %s\n' "$t" "$r"
  printf '%s\n' "$t" >&2
done
