#!/usr/bin/env python3
"""Usage: pty-ctty.py [--ctty] [--owner UID] COMMAND...
Opens a pseudo-terminal pair (owned by UID if given) and runs COMMAND... with the name of its
terminal side appended, in a session of its own: with a controlling terminal of its own (another
pseudo-terminal) with --ctty, with none otherwise. Prints what COMMAND printed; exits with its
status."""
import os, pty, select, subprocess, sys

def main():
    args = sys.argv[1:]
    ctty = args[:1] == ['--ctty']
    if ctty:
        args = args[1:]
    owner = None
    if args[:1] == ['--owner']:
        owner, args = int(args[1]), args[2:]
    master, slave = pty.openpty()
    name = os.ttyname(slave)
    if owner is not None:
        os.chown(name, owner, -1)
    os.close(slave)
    command = args + [name]
    if not ctty:
        r = subprocess.run(command, start_new_session=True, stdout=subprocess.PIPE, timeout=60)
        sys.stdout.write(r.stdout.decode(errors='replace'))
        sys.exit(r.returncode)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    out = b''
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors='replace').replace('\r', ''))
    sys.exit(os.waitstatus_to_exitcode(status))

main()
