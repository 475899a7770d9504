# Polls $url until it answers $status (and contains $contains), at most
# $attempts times, $delay s apart, giving up after $deadline s. Set before:
# url status contains attempts delay deadline timeout
body=$(mktemp) && trap 'rm -f "$body"' EXIT
fetch() {
  if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o "$body" -w '%{http_code}' --max-time "$timeout" -- "$url" 2>/dev/null)
    rc=$?
    case $rc in
      0) ;;
      7) code="no answer (connection refused)" ;;
      28) code="no answer (timed out after ${timeout}s)" ;;
      *) [ "$code" = 000 ] && code="no answer (curl exit $rc)" ;;
    esac
  elif command -v python3 >/dev/null 2>&1; then
    code=$(python3 -c '
import sys, urllib.request, urllib.error
url, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
try:
    r = urllib.request.urlopen(url, timeout=timeout)
    code, data = r.status, r.read()
except urllib.error.HTTPError as e:
    code, data = e.code, e.read()
except Exception as e:
    print("no answer (%s)" % e); sys.exit()
open(out, "wb").write(data); print(code)' "$url" "$body" "$timeout")
  else
    echo "http.check needs curl or python3 on the host" >&2
    exit 1
  fi
}
start=$(date +%s) i=0
while :; do
  i=$((i + 1))
  : >"$body"
  fetch
  if [ "$code" = "$status" ] && { [ -z "$contains" ] || grep -qF -- "$contains" "$body"; }; then
    echo "HTTP $code from $url after $i attempt(s)"
    exit 0
  fi
  if [ "$i" -ge "$attempts" ] || [ $(($(date +%s) - start + delay)) -gt "$deadline" ]; then break; fi
  sleep "$delay"
done
{
  echo "$url did not answer $status${contains:+ with \"$contains\"} after $i attempt(s) in $(($(date +%s) - start))s"
  echo "last response: HTTP $code"
  head -c 600 "$body" | tr -d '\r'
  echo
} >&2
exit 1
