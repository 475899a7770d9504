# ferry's fact gathering: everything in one round trip, with POSIX tools
# only (iproute2, python3 and lsb_release are read when they exist). Each
# section starts with a `::name` line; src/run/facts.rs reads them and builds
# Ansible's facts. Nothing here changes the host.
export LC_ALL=C
section() { printf '\n::%s\n' "$1"; }
have() { command -v "$1" >/dev/null 2>&1; }

section uname
uname -s; uname -n; uname -r; uname -v; uname -m
section fqdn
# As Python's socket.getfqdn(), which Ansible uses: the name's address,
# then that address's names (canonical first, then aliases).
address=$(getent hosts "$(uname -n)" 2>/dev/null | awk '{ print $1; exit }')
[ -n "$address" ] && getent hosts "$address" 2>/dev/null | head -n 1
section os-release
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
section debian_version
cat /etc/debian_version 2>/dev/null
section lsb-release
cat /etc/lsb-release 2>/dev/null
section lsb_release
have lsb_release && lsb_release -a 2>/dev/null
section cpuinfo
grep -E '^(processor|physical id|cpu cores|siblings)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
section nproc
nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null
section meminfo
grep -E '^(MemTotal|MemFree|SwapTotal|SwapFree):' /proc/meminfo 2>/dev/null
section init
cat /proc/1/comm 2>/dev/null
section systemd
test -d /run/systemd/system && echo yes
section pkg
for tool in apt-get dnf5 dnf yum zypper pacman apk pkg_info; do
    have "$tool" && echo "$tool"
done
section python
if have python3; then
    python3 -c 'import sys
v = sys.version_info
print(sys.executable)
print(v.major, v.minor, v.micro, v.releaselevel, v.serial)
print(sys.implementation.name)
try:
    import ssl
    print(hasattr(ssl, "SSLContext"))
except ImportError:
    print(False)' 2>/dev/null
fi
section user
id -un; id -u; id -g; id -gn
section passwd
grep "^$(id -un):" /etc/passwd 2>/dev/null
section env
# One variable a line: newlines inside values become \001, NULs newlines.
tr '\n\000' '\001\n' </proc/self/environ 2>/dev/null
section date
date '+%Y|%m|%d|%H|%M|%S|%s|%Z|%z|%A|%B|%b|%a|%w|%W|%j|%u'
date -u '+%Y-%m-%dT%H:%M:%S'
date '+%N'
section route
have ip && ip -4 route get 1.0.0.0 2>/dev/null
section addresses
have ip && ip -4 -o addr show 2>/dev/null
section links
for dir in /sys/class/net/*; do
    [ -d "$dir" ] || continue
    printf '%s %s %s %s\n' "${dir##*/}" "$(cat "$dir/address" 2>/dev/null)" "$(cat "$dir/mtu" 2>/dev/null)" "$(cat "$dir/type" 2>/dev/null)"
done
section virt
have systemd-detect-virt && systemd-detect-virt 2>/dev/null
test -f /.dockerenv && echo docker-env
test -f /run/.containerenv && echo podman-env
cat /run/systemd/container 2>/dev/null
section end
