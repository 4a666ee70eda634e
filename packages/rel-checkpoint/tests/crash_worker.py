"""Fork server for the kill -9 test: forks a worker per request and reports how it ended.

Forking from an already-imported process keeps each of the hundreds of
workers cheap to start. A worker appends events with fsync-per-append and
checkpoints (a run directory checkpoint and a standalone checkpoint file)
every few events, writing an acknowledgement line after each
call returns; the test SIGKILLs it at a random moment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rel_checkpoint import EventLog, cleanup_old_checkpoints, create_checkpoint, save_checkpoint
from rel_io import atomic_write_json


def work(run_dir: Path, acks: int) -> None:
    log = EventLog(run_dir / "events.ndjson", durability="fsync")
    n = 0
    while True:
        size = 200_000 if n % 7 == 3 else n % 300
        seq = log.append({"n": n, "pid": os.getpid(), "blob": "x" * size})
        os.write(acks, b"e %d %d %d\n" % (seq, os.getpid(), n))
        if n % 4 == 2:
            save_checkpoint(run_dir / "state.json", {"n": n, "pid": os.getpid(), "blob": "s" * (n % 5000)})
            os.write(acks, b"s %d %d\n" % (os.getpid(), n))
        if n % 4 == 0:
            atomic_write_json(
                run_dir / "snapshot.json",
                {"run_id": "crash", "run_state": "running", "completed_workers": [], "last_seq": seq},
            )
            checkpoint = create_checkpoint(run_dir)
            os.write(acks, b"c %s\n" % checkpoint.checkpoint_id.encode())
            cleanup_old_checkpoints(run_dir, keep_last_n=3)
        n += 1


def main() -> None:
    run_dir, acks_path = Path(sys.argv[1]), sys.argv[2]
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                acks = os.open(acks_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                work(run_dir, acks)
            finally:
                os._exit(3)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(status, flush=True)


if __name__ == "__main__":
    main()
