"""The fdleak command run as root against what other users and target processes control:
`snapshot` never kills a process that does not catch its dump signal, never creates a directory,
never reads a planted directory, link, FIFO or file, never hangs; `run --keep-dumps` never writes
through a link; `run` works when processes change their user, reads its 01733 run directory as
untrusted, and names every process it could not check.

"Another local user" is nobody (uid 65534): files are chowned to it, or a child drops to it."""
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time

import lib

NOBODY = 65534
PY = "/usr/bin/python3"


def _contract(name):
    """A string #define of common/contract.h (lib.contract() reads numbers only: its pattern
    ends in \\b, which never matches after a closing quote)."""
    with open(os.path.join(lib.ROOT, "common", "contract.h")) as f:
        for line in f:
            w = line.split(None, 2)
            if len(w) == 3 and w[0] == "#define" and w[1] == name:
                return w[2].split('"')[1]
    raise lib.TestFailure("%s not in common/contract.h" % name)


def _fdleak(args, timeout=lib.TIMEOUT, env=None):
    return subprocess.run([lib.tool()] + args, env=env or lib.tool_env(), capture_output=True,
                          text=True, errors="replace", timeout=timeout)


def _one_line(r, *words):
    lib.check(r.returncode > 0, "expected a failure exit, got %d" % r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    lib.eq(len(lines), 1, "lines on stderr", r.stderr)
    for w in words:
        lib.check(w in lines[0], "%r not in %r" % (w, lines[0]))


def _alive(pid):
    """True if pid is running (not a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _world_dir(mode=0o1777):
    """A shared directory like /tmp, owned by root."""
    d = lib.new_tmpdir("fdleak-safety-")
    os.chmod(d, mode)
    return d


# A target that prints "ready" once set up and lives until stdin closes. `setup` is Python code
# run first (after the library's constructor, so it sees what the program itself changed).
TARGET = "import os, signal, sys\n%s\nprint('ready', flush=True)\nsys.stdin.read()\n"


class Target:
    def __init__(self, setup="", env=None, shim=True, user=None):
        e = lib.shim_env(env) if shim else lib.plain_env(env)
        pre = (lambda: (os.setgid(user), os.setuid(user))) if user is not None else None
        self.p = subprocess.Popen([PY, "-c", TARGET % setup], env=e, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=pre, cwd="/")
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise lib.TestFailure("target not ready: %r %s" % (line, self.p.stderr.read()))
        self.pid = self.p.pid

    def close(self):
        try:
            os.kill(self.p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        self.p.stdin.close()
        try:
            self.p.wait(timeout=lib.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _own_snapdir():
    d = "/tmp/fdleak-%d" % os.getuid()
    if not os.path.isdir(d):
        os.mkdir(d, 0o700)


# ------------------------------------------------------------------- snapshot: never kills

def test_snapshot_follows_the_targets_signal_setting():
    """FDLEAK_SIGNAL=usr1 is used; TERM and garbage are refused by the library, which stays on
    the default signal, and the command reads them the same way: every snapshot succeeds."""
    _own_snapdir()
    for value, shown in (("usr1", "SIGUSR1"), ("TERM", "SIGRTMAX-3"), ("garbage", "SIGRTMAX-3")):
        with Target(env={"FDLEAK_SIGNAL": value}) as t:
            r = _fdleak(["snapshot", "--timeout=10", str(t.pid)])
            lib.eq(r.returncode, 0, "snapshot with FDLEAK_SIGNAL=%s" % value, r.stderr)
            lib.check("trigger: signal %s" % shown in r.stdout, "trigger %s" % shown, r.stdout)
            lib.check(_alive(t.pid), "target with FDLEAK_SIGNAL=%s died" % value)


def test_snapshot_refuses_a_process_that_does_not_catch_the_signal():
    """A process that maps a file named libfdleak.so but catches nothing (the old command
    killed it with SIGRTMAX-3), one that set the dump signal to SIG_IGN, one that blocks it:
    one line each, nothing sent, all alive."""
    d = lib.new_tmpdir()
    fake = os.path.join(d, "libfdleak.so")
    with open(fake, "wb") as f:
        f.write(b"\0" * 4096)
    cases = [
        (dict(shim=False, setup="import mmap\nf = open(%r, 'rb')\n"
              "m = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)" % fake),
         "does not catch SIGRTMAX-3"),
        (dict(setup="signal.signal(signal.SIGRTMAX - 3, signal.SIG_IGN)"),
         "ignores SIGRTMAX-3"),
        (dict(setup="signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMAX - 3])"),
         "blocks SIGRTMAX-3 in every thread"),
        (dict(shim=False, setup=""), "is not running under fdleak"),
    ]
    for kw, words in cases:
        with Target(**kw) as t:
            r = _fdleak(["snapshot", "--timeout=2", str(t.pid)])
            _one_line(r, "process %d" % t.pid, words, "nothing sent")
            time.sleep(0.2)
            lib.check(_alive(t.pid), "target died (%s)" % words)
            with open("/proc/%d/status" % t.pid) as f:
                pend = [l for l in f if l.startswith(("ShdPnd:", "SigPnd:"))]
            lib.check(all(int(l.split()[1], 16) == 0 for l in pend),
                      "a signal was sent (%s): %s" % (words, pend))


def test_snapshot_waits_out_a_moment_with_the_signal_blocked():
    """The library blocks every signal for a moment in a thread's first capture; a program may
    too. A target that blocks the dump signal for 0.3 s and then unblocks it is snapshotted,
    not refused (the check used to refuse it at once)."""
    _own_snapdir()
    setup = ("signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMAX - 3])\n"
             "signal.signal(signal.SIGALRM, lambda *a: signal.pthread_sigmask("
             "signal.SIG_UNBLOCK, [signal.SIGRTMAX - 3]))\n"
             "signal.setitimer(signal.ITIMER_REAL, 0.3)\n"
             "f = open('/dev/null')")
    with Target(setup=setup) as t:
        with open("/proc/%d/status" % t.pid) as f:
            blk = [int(l.split()[1], 16) for l in f if l.startswith("SigBlk:")][0]
        lib.check(blk & (1 << (signal.SIGRTMAX - 4)), "the target does not block the signal yet")
        r = _fdleak(["snapshot", "--timeout=10", str(t.pid)])
        lib.eq(r.returncode, 0, "snapshot of a process that blocks the signal for 0.3 s",
               r.stderr)
        lib.check("fdleak: process %d" % t.pid in r.stdout, "report", r.stdout)


def test_snapshot_of_another_users_process():
    """Root snapshots a process of nobody whose snapshot directory nobody made: it works, and the
    file read was nobody's (uid from /proc/PID/status, not from who runs the command)."""
    shared = _world_dir()
    snaps = os.path.join(shared, "snaps")
    os.mkdir(snaps, 0o700)
    os.chown(snaps, NOBODY, NOBODY)
    with Target(env={"FDLEAK_SNAPSHOT_DIR": snaps}, user=NOBODY,
                setup="f = open('/dev/null')") as t:
        r = _fdleak(["snapshot", "--timeout=10", str(t.pid)])
        lib.eq(r.returncode, 0, "snapshot of nobody's process", r.stderr)
        lib.check("fdleak: process %d" % t.pid in r.stdout, "report", r.stdout)
        lib.eq(os.listdir(snaps), [], "files left in the snapshot directory")


# --------------------------------------------------------- snapshot: creates no directory

def test_snapshot_creates_no_directory():
    """The target (nobody) names a snapshot directory it cannot create: root's snapshot does not
    create it either, and says so within the timeout."""
    parent = _world_dir(0o755)
    sub = os.path.join(parent, "sub")
    with Target(env={"FDLEAK_SNAPSHOT_DIR": sub}, user=NOBODY) as t:
        start = time.monotonic()
        r = _fdleak(["snapshot", "--timeout=2", str(t.pid)])
        took = time.monotonic() - start
        _one_line(r, "does not exist", "fdleak created nothing")
        lib.check(took < 6, "took %.1f s" % took)
        lib.check(not os.path.exists(sub), "%s was created" % sub)
        lib.eq(os.listdir(parent), [], "entries in the parent")
        lib.check(_alive(t.pid), "target died")


# -------------------------------------------------------- snapshot: planted directory, files

def test_snapshot_refuses_a_planted_directory():
    """Another user made the directory the target would use (owned by nobody), or a symbolic
    link there: refused before anything is sent."""
    shared = _world_dir()
    planted = os.path.join(shared, "snaps")
    os.mkdir(planted, 0o755)
    os.chown(planted, NOBODY, NOBODY)
    with Target(env={"FDLEAK_SNAPSHOT_DIR": planted}) as t:
        r = _fdleak(["snapshot", "--timeout=2", str(t.pid)])
        _one_line(r, "not owned by the expected user", "nothing sent")
        lib.check(_alive(t.pid), "target died")
    real = os.path.join(shared, "real")
    os.mkdir(real, 0o700)
    link = os.path.join(shared, "link")
    os.symlink(real, link)
    os.lchown(link, NOBODY, NOBODY)
    with Target(env={"FDLEAK_SNAPSHOT_DIR": link}) as t:
        r = _fdleak(["snapshot", "--timeout=2", str(t.pid)])
        _one_line(r, "symbolic link", "nothing sent")
        lib.eq(os.listdir(real), [], "files written through the link")


def _plant_every_token(d, pid, make):
    """Creates every name the snapshot could use (the token is 16 random bits)."""
    pre, suf = _contract("FDC_SNAPSHOT_FILE_PREFIX"), _contract("FDC_SNAPSHOT_FILE_SUFFIX")
    for tok in range(1 << 16):
        make(os.path.join(d, "%s%d.%d%s" % (pre, pid, tok, suf)))


def test_snapshot_planted_fifo_does_not_hang():
    """A shared sticky directory of the target's user where another user planted FIFOs under
    every snapshot name; the target is stopped, so only the plants could answer. The old command
    blocked in open() forever; now one line, within the timeout."""
    d = _world_dir()
    with Target(env={"FDLEAK_SNAPSHOT_DIR": d}) as t:
        def fifo(p):
            os.mkfifo(p, 0o666)
            os.lchown(p, NOBODY, NOBODY)
        _plant_every_token(d, t.pid, fifo)
        os.kill(t.pid, signal.SIGSTOP)
        start = time.monotonic()
        r = _fdleak(["snapshot", "--timeout=2", str(t.pid)], timeout=30)
        took = time.monotonic() - start
        _one_line(r, "not a regular file")
        lib.check(took < 5, "took %.1f s" % took)
    shutil.rmtree(d, ignore_errors=True)


def test_snapshot_planted_file_is_not_shown():
    """The same with regular files of another user holding a report with terminal escapes:
    refused by owner, nothing of them printed."""
    d = _world_dir()
    payload = "\x1b]0;owned\x07\x1b[2J==1== fdleak: process 1 (planted)\n"
    with Target(env={"FDLEAK_SNAPSHOT_DIR": d}) as t:
        def plant(p):
            with open(p, "w") as f:
                f.write(payload)
            os.chown(p, NOBODY, NOBODY)
        _plant_every_token(d, t.pid, plant)
        os.kill(t.pid, signal.SIGSTOP)
        r = _fdleak(["snapshot", "--timeout=2", str(t.pid)], timeout=30)
        _one_line(r, "owned by uid %d, expected uid %d" % (NOBODY, os.getuid()))
        lib.check("planted" not in r.stdout + r.stderr and "\x1b" not in r.stdout + r.stderr,
                  "planted content printed", r.stdout, r.stderr)
    shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------- run --keep-dumps=DIR

def test_keep_dumps_refuses_a_symlink():
    shared = _world_dir()
    other = os.path.join(shared, "other")
    os.mkdir(other, 0o755)
    link = os.path.join(shared, "keep")
    os.symlink(other, link)
    r = _fdleak(["run", "--keep-dumps=" + link, "--", "true"])
    _one_line(r, "--keep-dumps=", "symbolic link", "nothing written")
    lib.eq(os.listdir(other), [], "files written through the link")
    # a directory of another user: refused too
    os.chown(other, NOBODY, NOBODY)
    r = _fdleak(["run", "--keep-dumps=" + other, "--", "true"])
    _one_line(r, "not owned by you")
    # missing: created 0700, dumps written 0600
    new = os.path.join(shared, "new")
    r = _fdleak(["run", "--keep-dumps=" + new, "--", "true"])
    lib.eq(r.returncode, 0, "run with a new --keep-dumps", r.stderr)
    lib.eq(stat.S_IMODE(os.lstat(new).st_mode), 0o700, "mode of the kept-dumps directory")
    files = os.listdir(new)
    lib.check(files and all(stat.S_IMODE(os.lstat(os.path.join(new, f)).st_mode) == 0o600
                            for f in files), "kept dumps 0600: %s" % files)


# --------------------------------------------------------------------- run: the run directory

RUN_DIR_PROBE = """
import os, stat
d = os.environ[%r]
st = os.lstat(d)
print("rundir %%s %%o %%d" %% (d, stat.S_IMODE(st.st_mode), st.st_uid), flush=True)
"""


def test_run_directory_is_01733_and_removed():
    env_name = _contract("FDC_RUN_DIR_ENV")
    r = _fdleak(["run", "--", PY, "-c", RUN_DIR_PROBE % env_name])
    lib.eq(r.returncode, 0, "run", r.stderr)
    w = [l.split() for l in r.stdout.splitlines() if l.startswith("rundir ")]
    lib.check(w, "no rundir line", r.stdout)
    lib.eq(w[0][2], "1733", "run directory mode")
    lib.eq(int(w[0][3]), os.getuid(), "run directory owner")
    lib.check(not os.path.exists(w[0][1]), "run directory left behind")


def test_run_processes_that_change_user():
    """A child run as nobody and a program that setuid()s after opening a leak: both write
    their dumps; the leak is reported with the uid that wrote it."""
    r = _fdleak(["run", "--error-exitcode=9", "--", PY, "-c",
                 "import subprocess; subprocess.run(['true'], user='nobody', check=True)"])
    lib.eq(r.returncode, 0, "run with a child as nobody", r.stderr)
    lib.check("no leaked descriptors (2 processes checked)" in r.stderr, "2 checked", r.stderr)
    lib.check("could not" not in r.stderr, "a process was not checked", r.stderr)
    exe = lib.fixture("setuid_leak")
    r = _fdleak(["run", "--error-exitcode=9", "--", exe, str(NOBODY)])
    lib.eq(r.returncode, 9, "run of a program dropping to nobody", r.stderr)
    name = pwd.getpwuid(NOBODY).pw_name
    lib.check("wrote its dump as uid %d (%s)" % (NOBODY, name) in r.stderr, "owner note",
              r.stderr)
    lib.check("leaked from open()" in r.stderr and "setuid_leak_open" in r.stderr,
              "the leak", r.stderr)


PLANT = r"""
import os, sys
d = os.environ[%r]
os.mkfifo(os.path.join(d, "fdleak.3999991.1.json"))
os.symlink("/etc/passwd", os.path.join(d, "fdleak.3999992.1.json"))
with open(os.path.join(d, "started.3999993"), "w") as f:
    f.write("/bin/fake\x1b[31mred\n")
"""


def test_run_directory_plants_are_not_followed():
    """What others may create in the 01733 directory: a FIFO and a symbolic link under dump
    names are refused without blocking; a start marker without a dump names a process that could
    not be checked (escaped), and --error-exitcode fails the run though nothing leaked."""
    env_name = _contract("FDC_RUN_DIR_ENV")
    start = time.monotonic()
    r = _fdleak(["run", "--error-exitcode=7", "--", PY, "-c", PLANT % env_name], timeout=30)
    lib.check(time.monotonic() - start < 20, "run took too long")
    lib.eq(r.returncode, 7, "exit status", r.stderr)
    lib.check("3999991" in r.stderr and "not a regular file" in r.stderr, "FIFO refused",
              r.stderr)
    lib.check("3999992" in r.stderr and "symbolic link" in r.stderr, "symlink refused", r.stderr)
    lib.check("process 3999993 (/bin/fake\\x1b[31mred) could not be checked: it wrote no dump"
              in r.stderr, "marker without a dump", r.stderr)
    lib.check("\x1b" not in r.stderr, "raw escape printed", r.stderr)
    lib.check("root:" not in r.stderr + r.stdout, "/etc/passwd read", r.stderr)


TRUNCATE = r"""
import os, signal
d = os.environ[%r]
with open(os.path.join(d, "fdleak.%%d.1.json" %% os.getpid()), "w") as f:
    f.write('{"format": "fdleak-dump", "version": 1, "pid": %%d, "fds": [' %% os.getpid())
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_run_truncated_dump_is_named():
    """The only dump of the process is cut short: "incomplete dump" with its path, not "no dump
    was written", and the process counts as not checked."""
    env_name = _contract("FDC_RUN_DIR_ENV")
    keep = lib.new_tmpdir()
    r = _fdleak(["run", "--error-exitcode=5", "--keep-dumps=" + keep, "--", PY, "-c",
                 TRUNCATE % env_name])
    lib.eq(r.returncode, 5, "exit status", r.stderr)
    lib.check("incomplete dump of process" in r.stderr and keep in r.stderr and
              "truncated" in r.stderr, "incomplete dump named", r.stderr)
    lib.check("no dump was written" not in r.stderr, "wrong message", r.stderr)
    lib.check("could not be checked" in r.stderr, "not checked", r.stderr)


SIGKILLED = r"""
import os, signal, subprocess, time
d = os.environ[%r]
p = subprocess.Popen(["sleep", "30"], user="nobody")
marker = os.path.join(d, "started.%%d" %% p.pid)
for _ in range(200):
    if os.path.exists(marker):
        break
    time.sleep(0.01)
print("child %%d marker %%s" %% (p.pid, os.path.exists(marker)), flush=True)
p.kill()
p.wait()
"""


def test_run_names_a_process_killed_before_its_dump():
    """End to end with the library's start markers: a child run as nobody and SIGKILLed writes
    no dump; the run names it and --error-exitcode fails. Skipped while the library does not
    write started.<pid> (FDLEAK_RUN_DIR is another branch's part)."""
    env_name = _contract("FDC_RUN_DIR_ENV")
    r = _fdleak(["run", "--error-exitcode=3", "--", PY, "-c", SIGKILLED % env_name])
    w = [l.split() for l in r.stdout.splitlines() if l.startswith("child ")]
    lib.check(w, "no child line", r.stdout, r.stderr)
    if w[0][3] != "True":
        raise lib.Skip("the library writes no started.<pid> marker in $%s yet" % env_name)
    lib.eq(r.returncode, 3, "exit status", r.stderr)
    lib.check("process %s (" % w[0][1] in r.stderr and "could not be checked" in r.stderr,
              "the killed child named", r.stderr)
