#!/usr/bin/python3
"""seccomp_run.py ERRNO|KILL SYSCALL[,SYSCALL...] -- COMMAND...

Runs COMMAND under a seccomp filter (Debian python3-seccomp) that makes the named system calls
fail with EPERM (ERRNO) or kill the process with SIGSYS (KILL), as sandboxes do."""
import errno
import os
import sys

import seccomp

action, calls, _, *cmd = sys.argv[1:]
f = seccomp.SyscallFilter(seccomp.ALLOW)
for name in calls.split(","):
    f.add_rule(seccomp.ERRNO(errno.EPERM) if action == "ERRNO" else seccomp.KILL, name)
f.load()
os.execvp(cmd[0], cmd)
