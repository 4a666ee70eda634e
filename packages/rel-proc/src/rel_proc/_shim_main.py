"""The supervising shim: a subreaper between one owner and its child (Linux).

Run as ``python -I -S _shim_main.py FD KILL_ON_EOF PROGRAM [ARGS...]`` in a
new session, with ``FD`` one end of a socket pair whose other end only the
owner holds. It makes itself a child subreaper, so every process of the tree
that is orphaned - even one that scrubbed its environment and left the process
group with ``setsid`` - is re-parented to it and stays a descendant; it starts
the program into a process group of its own and talks to the owner over
``FD``:

- shim to owner: ``P <pid>`` (started), ``E <errno>`` (exec failed),
  ``X <wait status>`` (the program exited), ``Q`` (nothing is left: the shim exits);
- owner to shim: ``K`` - SIGKILL whatever is left of the tree, reap it, exit.

End-of-file on ``FD`` means the owner died, however it died (SIGKILL
included); so does ``PR_SET_PDEATHSIG`` (SIGTERM), SIGHUP or SIGINT. Then,
unless ``KILL_ON_EOF`` is ``0``, the shim SIGKILLs the program's group and
every descendant until it has no child left, reaping each. Because it is the
subreaper, having no child means the whole tree is gone. Standard library
only: it starts with ``-S`` in a few milliseconds.
"""

# ruff: noqa: SIM105  (importing contextlib would add ~10 ms to every supervised spawn)
from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]  # `signal` would import enum: slower start
import ctypes
import errno
import os
import select
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
# Reset in the program: ignored here (by Python, or by us) or handled here.
DEFAULT_SIGNALS = (*ENDING_SIGNALS, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ)
KILL_PAUSE = 0.005

_ending = False


def _on_signal(signum: int, frame: object) -> None:
    global _ending
    if signum != signal.SIGCHLD:
        _ending = True


def _descendants(me: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            raw = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) > 1:  # an exiting process may show an empty file
            children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    stack = [me]
    while stack:
        for pid in children.get(stack.pop(), ()):
            found.append(pid)
            stack.append(pid)
    return found


def _kill_all(group: int) -> None:
    """SIGKILL the program's group and every descendant of this process."""
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if group:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass


def _environ() -> dict[bytes, bytes]:
    """The environment this process was started with (Python's start-up may have added to os.environ)."""
    with open("/proc/self/environ", "rb") as fh:
        raw = fh.read()
    env: dict[bytes, bytes] = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep and key:
            env.setdefault(key, value)
    return env


def _start(argv: list[bytes], env: dict[bytes, bytes]) -> tuple[int, int]:
    """Start the program in a process group of its own; (pid, 0), or (0, errno) if it cannot run."""
    program = argv[0]
    if b"/" in program:
        candidates = [program]
    else:
        search = {"PATH": os.fsdecode(env[b"PATH"])} if b"PATH" in env else {}
        candidates = [os.path.join(os.fsencode(d), program) for d in os.get_exec_path(search)]
    saved, last = 0, errno.ENOENT
    for path in candidates:  # the search subprocess does: the first error other than "not there" wins
        try:
            pid = os.posix_spawn(path, argv, env, setpgroup=0, setsigdef=DEFAULT_SIGNALS)
        except OSError as exc:
            last = exc.errno or errno.ENOEXEC
            if last not in (errno.ENOENT, errno.ENOTDIR) and not saved:
                saved = last
            continue
        return pid, 0
    return 0, saved or last


def _send(fd: int, message: bytes) -> None:
    try:
        os.write(fd, message)
    except OSError:  # the owner is gone: nobody to tell
        pass


def main(argv: list[str]) -> int:
    inherited, kill_on_eof = int(argv[1]), argv[2] == "1"
    program = [os.fsencode(a) for a in argv[3:]]
    # The owner's number for this end may be past select()'s limit (1024) if it holds many
    # files; here, in a fresh process, the lowest numbers are free. dup() also makes it non-inheritable.
    fd = os.dup(inherited)
    os.close(inherited)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in (*ENDING_SIGNALS, signal.SIGCHLD):
        signal.signal(sig, _on_signal)
    owner = os.getppid()  # read before arming the death signal, to see a death that came first
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if kill_on_eof:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    child, failure = _start(program, _environ())
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):  # our copies of the pipes must not keep the owner's reads open
        os.dup2(null, target)
    os.close(null)
    if failure:
        _send(fd, b"E %d\n" % failure)
        return 0
    _send(fd, b"P %d\n" % child)

    global _ending
    if kill_on_eof and os.getppid() != owner:
        _ending = True  # the owner died before the death signal was armed
    child_done = False
    owner_here = True
    while True:
        childless = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                childless = True
                break
            if pid == 0:
                break
            if pid == child:
                child_done = True
                _send(fd, b"X %d\n" % status)
        if childless and (child_done or _ending or not owner_here):
            _send(fd, b"Q\n")
            return 0
        if _ending:
            _kill_all(child)
            select.select([wake_r], [], [], KILL_PAUSE)
        else:
            ready, _, _ = select.select([fd, wake_r] if owner_here else [wake_r], [], [])
            if fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    owner_here = False
                    _ending = _ending or kill_on_eof
                elif b"K" in data:
                    _ending = True
        try:
            while os.read(wake_r, 512):
                pass
        except OSError:
            pass


def entry() -> None:
    """Run the shim; whatever goes wrong, never leave the tree behind. Exits without interpreter clean-up."""
    try:
        code = main(sys.argv)
    except BaseException:
        try:
            _kill_all(0)
        finally:
            os._exit(70)
    os._exit(code)


if __name__ == "__main__":
    entry()
