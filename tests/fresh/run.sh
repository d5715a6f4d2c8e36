#!/usr/bin/env bash
# run.sh — `make check-fresh`: the README's promise as a test. A minimal Debian 12 root made by
# Debian's own debootstrap (minbase), with only git and make added as a new user would, gets a
# clone of this checkout's committed HEAD and runs the README's two commands in it: `make demo`,
# then `make check`. Whatever they need that the Makefile does not install fails here.
#
# The debootstrap root is made once and kept as a tarball (build/fresh/bookworm-minbase.tar);
# every run unpacks it anew, so the installs and the clone are fresh each time.
# FRESH_REBUILD=1 makes the tarball again; FRESH_MIRROR overrides the Debian mirror.
# Needs root (debootstrap, chroot, mount). Every mount is undone on every way out (trap).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
OUT=$ROOT/build/fresh
SUITE=bookworm
TARBALL=$OUT/$SUITE-minbase.tar
RFS=$OUT/root
LOG=$OUT/log

say() { echo "check-fresh: $*"; }
fail() { say "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot and mount)"

# The mirror this machine's apt uses, so a machine that only reaches its own mirror works too.
mirror() {
    [ -n "${FRESH_MIRROR:-}" ] && { echo "$FRESH_MIRROR"; return; }
    local m
    m=$(sed -n 's/^URIs: *\([^ ]*debian\/*\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    [ -z "$m" ] && m=$(sed -n 's/^deb  *\(http[^ ]*\)  *bookworm  *main.*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
    echo "${m:-http://deb.debian.org/debian}"
}

# Every mount under the root, deepest first: ours, and any a test left behind (tmpfs in /tmp).
mounts_under() { awk -v r="$RFS" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r; }
unmount_all() {
    local m
    for m in $(mounts_under); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    [ -z "$(mounts_under)" ] || { say "could not unmount: $(mounts_under | tr '\n' ' ')"; return 1; }
}
# Processes whose root is the chroot (a daemon a package started, a test's leftover) hold
# the mounts: they go first.
kill_inside() {
    local p pids=
    for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$RFS" ] && pids="$pids ${p#/proc/}"; done
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    sleep 0.2
}
cleanup() { kill_inside; unmount_all; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$OUT"
# a root left by a run that was killed outright: unmount it before anything is removed
[ -d "$RFS" ] && kill_inside
unmount_all || fail "a previous root is still mounted"
rm -rf "$RFS" "$LOG"
mkdir -p "$LOG"

t0=$(date +%s)
if [ -n "${FRESH_REBUILD:-}" ] || [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null || fail "debootstrap is not installed (make check-fresh installs it)"
    say "debootstrap --variant=minbase $SUITE from $(mirror) (once; kept in $TARBALL)"
    debootstrap --variant=minbase "$SUITE" "$RFS" "$(mirror)" >"$LOG/debootstrap.log" 2>&1 ||
        { tail -20 "$LOG/debootstrap.log"; fail "debootstrap failed (log: $LOG/debootstrap.log)"; }
    tar -C "$RFS" --numeric-owner -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL" || fail "cannot write $TARBALL"
else
    mkdir -p "$RFS"
    tar -C "$RFS" --numeric-owner -xpf "$TARBALL" || fail "cannot unpack $TARBALL"
fi
t1=$(date +%s)
say "root ready in $((t1 - t0)) s"

# What the tests need from the kernel: /proc, /sys, a private /dev with the usual nodes, its
# own pseudo-terminals (tests drive `script`), /dev/shm; the host's DNS resolver for apt.
mount -t proc proc "$RFS/proc" &&
    mount -t sysfs sysfs "$RFS/sys" &&
    mount -t tmpfs -o mode=0755,nosuid tmpfs "$RFS/dev" || fail "cannot mount proc, sys, dev"
for n in null zero full random urandom tty; do
    touch "$RFS/dev/$n" && mount --bind "/dev/$n" "$RFS/dev/$n" || fail "cannot bind /dev/$n"
done
mkdir -p "$RFS/dev/pts" "$RFS/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$RFS/dev/pts" &&
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$RFS/dev/shm" || fail "cannot mount /dev/pts, /dev/shm"
ln -s pts/ptmx "$RFS/dev/ptmx" && ln -s /proc/self/fd "$RFS/dev/fd" &&
    ln -s /proc/self/fd/0 "$RFS/dev/stdin" && ln -s /proc/self/fd/1 "$RFS/dev/stdout" &&
    ln -s /proc/self/fd/2 "$RFS/dev/stderr" || fail "cannot make /dev links"
cp -L /etc/resolv.conf "$RFS/etc/resolv.conf" || fail "cannot copy resolv.conf"
# debootstrap writes no /etc/hosts; every installed Debian has one (the installer's netcfg writes
# it), and the Redis TLS tests and bench name the server localhost, as its certificate does
[ -e "$RFS/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$RFS/etc/hosts" ||
    fail "cannot write /etc/hosts"
# as in any chroot: packages (redis-server, nginx) must not start daemons that outlive the run
printf '#!/bin/sh\nexit 101\n' >"$RFS/usr/sbin/policy-rc.d" && chmod 0755 "$RFS/usr/sbin/policy-rc.d" ||
    fail "cannot write policy-rc.d"

# The committed HEAD, as a clone would get it: uncommitted changes are not part of the test.
sha=$(git -C "$ROOT" rev-parse HEAD) || fail "not a git checkout"
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] ||
    say "note: uncommitted changes in $ROOT are not tested (HEAD ${sha:0:12} is)"
git clone -q --bare --no-local "$ROOT" "$RFS/tmp/llmshim.git" || fail "cannot copy the repository"

# Inside: a new user's first steps, with nothing from this machine's environment.
inner='set -e
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make >/dev/null
git clone -q /tmp/llmshim.git /root/llmshim
cd /root/llmshim
git checkout -q --detach "$SHA"
echo "check-fresh: inside: git and make installed, $(git log -1 --format="%h %s" | cut -c1-60)"
t=$(date +%s); make demo; echo "check-fresh: make demo took $(( $(date +%s) - t )) s"
t=$(date +%s); make check; echo "check-fresh: make check took $(( $(date +%s) - t )) s"'
chroot "$RFS" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    TERM=dumb LANG=C.UTF-8 SHA="$sha" /bin/bash -c "$inner" 2>&1 | tee "$LOG/inside.log"
rc=${PIPESTATUS[0]}
t2=$(date +%s)
verdict=$(grep '^check: [0-9]* passed, [0-9]* failed$' "$LOG/inside.log" | tail -1)
say "took $((t2 - t0)) s in all (root $((t1 - t0)) s); log: $LOG/inside.log"
[ "$rc" = 0 ] || fail "the README's commands failed in a fresh Debian 12 root (exit $rc)${verdict:+; $verdict}"
say "PASS: make demo and make check work on a fresh Debian 12 root${verdict:+ ($verdict)}"
