// The help texts: `tsyd --help` (all of it) and `tsyd COMMAND --help` (that command's part).
import { CAPABILITIES } from '../sandbox/capabilities.js';

const POLICY = `Policy (applied in command-line order, last match wins):
  -p, --profile NAME         a built-in profile as the base (repeatable):
      user                   (the base when no -p is given) read anywhere but secrets (~/.ssh,
                             ~/.aws, /etc/shadow ...); write, create, delete in the working
                             directory and temp dirs; exec system programs; network on loopback only
      paranoid               only what a program needs to start; nothing else
      off                    every access decided and allowed (for auditing and learning)
      none                   the empty base: nothing on, no rule (build a policy from scratch)
  -m, --rule RULE            one rule, on top of the base (repeatable):
      sandbox/read:on        turn a capability on (${CAPABILITIES.join(', ')})
      allow/read+/usr/***    allow a path glob (* ? ** and a trailing /*** for a whole tree)
      deny/write+/etc/**     deny a path glob
      allow/read-/usr/***    remove a rule
      allow/net/connect+127.0.0.0/8!1024-65535   an address (CIDR) and port range
  -P, --policy-file FILE     rules from a file, one per line, # comments (repeatable)
  So -m and -P add to the user profile: tsyd run -m 'allow/net/connect+10.0.0.0/8!443' keeps secrets
  hidden; -p none -m ... starts from nothing. When no capability ends up on (and -p off or -p none
  alone was not asked for), tsyd warns: tsyd: no sandbox capability is on: PROG runs unconfined`;

const LOGS = `  --log-level LEVEL          trace, debug, info, notice, warn (default), error, alert, fatal, silent
  --log-fd N                 write the log to file descriptor N instead of stderr
  --log-format json|pretty   force a form: on a terminal, one line per record (tsyd: denied read of
                             /etc/hostname (cat, pid 123)); JSON lines when stderr is not a terminal
                             or with --log-fd`;

const EXIT = `Exit status: the program's; 128+N when killed by signal N; 127 not found; 126 not executable;
125 tsyd could not start the sandbox or was used wrongly (bad option, rule, profile; no command);
101 a critical supervisor failure after start.`;

const RUN = `Usage: tsyd run [OPTIONS] [--] PROG [ARGS...]
  Run PROG under the sandbox policy.
${POLICY}
Options:
  --audit                    log and report denials, then allow them
${LOGS}
  --inspect[=[HOST:]PORT]    serve a live page of the supervisor while the program runs, on
                             127.0.0.1 and any free port by default; the URL (with its token) is
                             printed on stderr: tsyd: inspector at http://HOST:PORT/?token=TOKEN
  --inspect-wait             start the program only once a page is connected (implies --inspect)
  -h, --help                 this help
${EXIT}`;

const CHECK = `Usage: tsyd check [-p PROFILE]... [-m RULE]... [-P FILE]...
  Validate a policy and print it normalised (none given: the user profile). Exit 0, or 125 with
  the bad rule named (its source and line).
${POLICY}
  -h, --help                 this help`;

const LEARN = `Usage: tsyd learn [-o FILE] [--force] [-p PROFILE]... [-m RULE]... [-P FILE]... [--] PROG [ARGS...]
  Run PROG with everything allowed and recorded (-p off, then the -p/-m/-P given), and write the
  policy that lets the same run through.
  -o, --output FILE          where the policy goes (default ./tsyd.policy; never stdout); checked
                             before PROG runs
  --force                    replace an existing output file
  -p, --profile NAME / -m, --rule RULE / -P, --policy-file FILE   applied after -p off
${LOGS}
  -h, --help                 this help
${EXIT}`;

const EXPORT = `Usage: tsyd export bpf|pfc [-p PROFILE]... [-m RULE]... [-P FILE]...
       tsyd export syscalls [-p PROFILE]... [-m RULE]... [-P FILE]...
       tsyd export program [-p PROFILE]... [-m RULE]... [-P FILE]... > FILE
       tsyd export oci-seccomp --listener SOCK [--metadata TEXT] [-p PROFILE]... [-m RULE]... [-P FILE]...
  bpf       write the supervisor threads' filters to tsyd_emu.bpf, tsyd_int.bpf, tsyd_ipc.bpf,
            tsyd_aes.bpf in the working directory (never overwritten: an existing one is an error)
  pfc       print them as pseudo filter code
            (with a policy: the emulators' set*id calls may take tsyd's own ids and the targets
            of its setuid+SRC:DST / setgid+SRC:DST transits; without, tsyd's own ids only)
  syscalls  print every system call the program may make, and how its filter answers it under
            that policy (composed as for run: no -p means on top of the user profile)
  program   write the program's filter for that policy to stdout (struct sock_filter[], as
            loaded; tsyd's and the reaper's pids are the stand-ins 0x7ffffffd and 0x7ffffffe,
            which a loader replaces); refused on a terminal
  oci-seccomp  print the linux.seccomp object (JSON) of an OCI bundle or a node's seccomp
            profile: the calls tsyd decides for that policy stop for tsyd agent listening on
            SOCK (SCMP_ACT_NOTIFY), the calls it refuses fail as under tsyd run, the rest run;
            --metadata policy=NAME picks the agent's --policies DIR/NAME.policy
  -h, --help  this help (tsyd export syscalls --help: the policy options)`;

const AGENT = `Usage: tsyd agent --listen SOCK [--policies DIR] [--allow-uid UID,...] [-p PROFILE]... [-m RULE]... [-P FILE]...
  The seccomp agent of an OCI runtime (runc, crun): serves every container whose seccomp profile
  names SOCK as its listenerPath (tsyd export oci-seccomp), each with its own policy, decided in
  the container's view (its root, its cwd, its /proc). Records carry the container id.
  --listen SOCK              the UNIX socket to listen on (created 0600; an existing socket is replaced)
  --policies DIR             a container with listenerMetadata policy=NAME gets DIR/NAME.policy
                             (a NAME that is no plain file name there: every decided call denied)
  --allow-uid UID[,UID]...   users besides root and the agent's own that may connect (a rootless
                             runtime); each hands over only containers of its own uid
  --log-level LEVEL, --log-fd N   as for run
  The policy options (as for run) make the default policy; the policy is always locked (lock:on).
  If the agent dies, every container's next decided call fails (ENOSYS): never unchecked.`;

const CRYPT = `Usage: tsyd crypt encrypt|decrypt [--key HEX | --key-env NAME] < IN > OUT
  Encrypt stdin into the crypt file format, or decrypt a crypt file, outside a sandbox (recovery,
  backups). The format: docs/crypt-format.md.
  --key HEX                  the key: 64 hex digits (256 bits); visible to other users in ps:
                             prefer --key-env
  --key-env NAME             the key from environment variable NAME (64 hex digits)
  -h, --help                 this help
  Exit 0; 1 when the input does not verify (tampered, truncated, another key) or a read or write
  fails, with a message: nothing is written to OUT then (decrypt writes only verified plaintext);
  125 for a missing or malformed option or key.`;

const CTL = `Usage: tsyd ctl SOCKET COMMAND...
  Control a running sandbox through its IPC socket (the rule ipc:PATH or ipc:@NAME): each COMMAND
  is sent on its own line and its answer printed. COMMAND: a rule in -m syntax (ok, or the error
  a bad -m gives), ping (pong), sandbox/CAP? (on or off), stat (one line of JSON), lock:on.
  Exit 0 if every answer was ok or a value, 1 otherwise (also when the socket is missing or refuses).
  A connect that finds the socket's queue full (EAGAIN) is tried again for 5 s.`;

const SYSCALLS = `Usage: tsyd export syscalls [-p PROFILE]... [-m RULE]... [-P FILE]...
  Print every system call the program may make, and how its filter answers it under that policy.
${POLICY}
  -h, --help                 this help`;

/** `tsyd --help`. */
export const USAGE = `Usage:
  tsyd run [-p PROFILE]... [-m RULE]... [-P FILE]... [--audit] [--log-level LEVEL] [--log-fd N]
           [--log-format json|pretty] [--inspect[=[HOST:]PORT]] [--inspect-wait] -- PROG [ARGS...]
  tsyd check [-p PROFILE]... [-m RULE]... [-P FILE]...   validate a policy and print it normalised
  tsyd learn [-o FILE] [--force] [-p PROFILE]... [-m RULE]... [-P FILE]... -- PROG [ARGS...]
                                           run PROG allowing everything, write the policy it needs
                                           to FILE (default ./tsyd.policy)
  tsyd export bpf|pfc [POLICY]             write the supervisor threads' filters (tsyd_*.bpf) or print them
  tsyd export syscalls [-p|-m|-P ...]      print every system call the program may make, and how the
                                           filter answers it under that policy
  tsyd export oci-seccomp --listener SOCK [POLICY]   print a container's linux.seccomp for tsyd agent
  tsyd agent --listen SOCK [--policies DIR] [--allow-uid UID,...] [POLICY]
                                           serve containers' seccomp listeners (runc, crun)
  tsyd crypt encrypt|decrypt [--key HEX | --key-env NAME] < IN > OUT
                                           encrypt or decrypt the crypt file format
  tsyd ctl SOCKET COMMAND...               control a running sandbox through its IPC socket
  tsyd viz [--format mermaid|dot|svg] [--out FILE] [--machine NAME]...   draw the machines
  tsyd COMMAND --help | tsyd --help | tsyd --version

${POLICY}
  --audit (run)              log and report denials, then allow them

Inspector (run):
  --inspect[=[HOST:]PORT]    serve a live page of the supervisor while the program runs
  --inspect-wait             start the program only once a page is connected (implies --inspect)

${EXIT}
Environment: TSYD_LOG (level), TSYD_LOG_FD, TSYD_NPROC (core emulators), TSYD_NPROC_MAX (most
emulators), TSYD_KEEP_ALIVE (ms a helper emulator idles before it retires), TSYD_EXPORT (bpf|pfc:
export the filters, then run the program), TSYD_SKIP_SCMP (supervisor threads unconfined: debugging only).`;

/** The help of one command (`tsyd run --help`). */
export const COMMAND_USAGE = { run: RUN, check: CHECK, learn: LEARN, export: EXPORT, agent: AGENT, syscalls: SYSCALLS, crypt: CRYPT, ctl: CTL } as const;
export type HelpTopic = keyof typeof COMMAND_USAGE;
