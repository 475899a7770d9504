# `ferry logs`: an app's process logs on one host, for ferry to read.
# Arguments: DEPLOY_TO PROCESS(or empty) LINES MODE [STATE...]
#   MODE `history`: the last LINES lines of each log, then where each ends.
#   MODE `follow`: what is written after STATE (the `C`/`P` lines history
#   printed), until killed.
# Every line out is tagged:
#   `G pgid`: the process group to kill to stop following;
#   `U unit label`: a systemd unit of the app and its process (`web-1`);
#   `J json`: a journal entry (`journalctl -o json`) of one of those units;
#   `F label text`: a line of a supervisor program's log file;
#   `C cursor`: the journal cursor history ended at;
#   `P label bytes`: the size a log file had when history read it.
set -u
d=$1 p=$2 n=$3 mode=$4
shift 4
# The process group: sshd starts each command in a session of its own.
read -r _ _ _ _ pgid _ < /proc/$$/stat
echo "G $pgid"

# systemd: the units ferry wrote for the release directory's `current`
# (procfile's systemd/process.service.j2), named by their header comment.
units=
for f in /etc/systemd/system/*.service; do
  [ -f "$f" ] || continue
  grep -qx "WorkingDirectory=$d/current" "$f" || continue
  label=$(sed -n 's/^# Written by ferry for .*: `\(.*\)` process \([0-9]*\) of its Procfile\.$/\1-\2/p' "$f")
  [ -n "$label" ] || continue
  [ -z "$p" ] || [ "${label%-*}" = "$p" ] || continue
  u=${f##*/}
  units="$units -u $u"
  [ "$mode" = follow ] || echo "U $u $label"
done
journal=journalctl
if [ -n "$units" ] && [ "$(id -u)" != 0 ]; then
  # Another user's units are only in the system journal: readable by
  # root and these groups; else through sudo, when it asks no password.
  if ! id -nG | tr ' ' '\n' | grep -qx -e systemd-journal -e adm -e wheel; then
    if sudo -n true 2>/dev/null; then journal="sudo -n journalctl"; fi
  fi
fi

# supervisor: procfile's program logs, `shared/log/TYPE-N.log`.
logs=
for f in "$d"/shared/log/*.log; do
  [ -f "$f" ] || continue
  label=${f##*/}; label=${label%.log}
  [ -z "$p" ] || [ "${label%-*}" = "$p" ] || continue
  logs="$logs $f"
done

if [ -z "$units" ] && [ -z "$logs" ]; then
  echo "no logs of the app under $d: no systemd unit runs $d/current and $d/shared/log/ has no log" >&2
  exit 3
fi

# Each line as it comes, tagged: a shell loop, since awk (mawk) and sed
# would hold a follower's lines in their input buffer.
tag() { while IFS= read -r line || [ -n "$line" ]; do printf '%s%s\n' "$1" "$line"; done; }

if [ "$mode" = history ]; then
  if [ -n "$units" ]; then
    # shellcheck disable=SC2086
    $journal --no-pager -q -o json -n "$n" $units | tag "J "
  fi
  for f in $logs; do
    label=${f##*/}; label=${label%.log}
    size=$(wc -c < "$f")
    head -c "$size" "$f" | tail -n "$n" | tag "F $label "
    echo "P $label $size"
  done
  exit 0
fi

# follow: from where history ended, every source at once, until killed.
cursor=
for state in "$@"; do
  case "$state" in C\ *) cursor=${state#C } ;; esac
done
if [ -n "$units" ]; then
  if [ -n "$cursor" ]; then
    # shellcheck disable=SC2086
    $journal --no-pager -q -o json -f --after-cursor="$cursor" $units | tag "J " &
  else
    # shellcheck disable=SC2086
    $journal --no-pager -q -o json -f -n 0 $units | tag "J " &
  fi
fi
for f in $logs; do
  label=${f##*/}; label=${label%.log}
  size=0
  for state in "$@"; do
    case "$state" in "P $label "*) size=${state#P "$label" } ;; esac
  done
  tail -c +"$((size + 1))" -F "$f" 2>/dev/null | tag "F $label " &
done
wait
