#!/usr/bin/env python3
"""Drives an interactive bash on a pseudo-terminal: runs COMMAND, then sends each KEY after a
pause and prints everything the terminal showed. Usage: pty-session.py COMMAND [DELAY:KEYS]...
KEYS: ^C, ^Z, or a line of text to type (a newline is added)."""
import os, pty, select, sys, time

def main():
    command = sys.argv[1]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ['PS1'] = 'PROMPT$ '
        os.environ['TERM'] = 'dumb'
        os.execvp('bash', ['bash', '--norc', '--noprofile', '-i'])
    out = []

    def pump(seconds):
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out.append(os.read(fd, 4096))
                except OSError:
                    return

    pump(0.5)
    os.write(fd, command.encode() + b'\n')
    for step in sys.argv[2:]:
        delay, keys = step.split(':', 1)
        pump(float(delay))
        if keys == '^C':
            os.write(fd, b'\x03')
        elif keys == '^Z':
            os.write(fd, b'\x1a')
        else:
            os.write(fd, keys.encode() + b'\n')
    pump(1.0)
    os.write(fd, b'exit\n')
    pump(1.0)
    sys.stdout.write(b''.join(out).decode(errors='replace'))

main()
