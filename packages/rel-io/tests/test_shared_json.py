from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from rel_io import (
    CorruptFileError,
    FileLock,
    FileReadError,
    LockTimeoutError,
    async_atomic_read_json,
    async_update_json,
    atomic_read_json,
    atomic_write_json,
    lock_path_for,
    update_json,
)

WORKER = """
import sys
from rel_io import update_json

path, count = sys.argv[1], int(sys.argv[2])

def bump(data):
    data["n"] += 1
    return data

for _ in range(count):
    update_json(path, bump, default={"n": 0}, durable=False, lock_timeout=60)
"""


def test_eight_processes_increment_to_exactly_4000(tmp_path):
    """8 processes x 500 update_json increments of one counter end at exactly 4000."""
    path = tmp_path / "counter.json"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), "500"], stderr=subprocess.PIPE)
        for _ in range(8)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert json.loads(path.read_text()) == {"n": 4000}


def test_seed_atomic_read_modify_write(tmp_path):
    """Seed 001: atomic_read_json, modify, atomic_write_json."""
    path = tmp_path / "shared_config.json"
    atomic_write_json(path, {"a": 1})
    data = atomic_read_json(path)
    data["last_updated"] = time.time()
    atomic_write_json(path, data)
    assert atomic_read_json(path)["a"] == 1


def test_atomic_read_json_missing_and_default(tmp_path):
    """A missing file raises FileNotFoundError-flavoured FileReadError unless a default is given."""
    path = tmp_path / "missing.json"
    with pytest.raises(FileReadError) as info:
        atomic_read_json(path)
    assert isinstance(info.value, FileNotFoundError)
    default = {"x": []}
    got = atomic_read_json(path, default)
    assert got == default
    assert got is not default


def test_update_json_returns_new_value_and_mutation_form(tmp_path):
    """update_json writes fn's result, or the mutated value when fn returns None."""
    path = tmp_path / "u.json"
    assert update_json(path, lambda d: [*d, 1], default=[]) == [1]
    assert update_json(path, lambda d: d.append(2)) == [1, 2]
    assert json.loads(path.read_text()) == [1, 2]


def test_update_json_never_mutates_the_default(tmp_path):
    """A missing file starts from a copy of default: mutating it in fn leaves the caller's object alone."""
    path = tmp_path / "u.json"
    default: dict[str, list[int]] = {"items": []}
    assert update_json(path, lambda d: d["items"].append(1), default=default) == {"items": [1]}
    assert update_json(path, lambda d: d["items"].append(2), default=default) == {"items": [1, 2]}
    assert default == {"items": []}


def test_update_json_failure_leaves_file_unchanged(tmp_path):
    """If fn raises, the file keeps its content and the lock is released."""
    path = tmp_path / "u.json"
    atomic_write_json(path, {"v": 1})

    def boom(_):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        update_json(path, boom)
    assert json.loads(path.read_text()) == {"v": 1}
    with FileLock(lock_path_for(path), timeout=1):
        pass


def test_update_json_on_corrupt_file(tmp_path):
    """A corrupt file is reported, not overwritten."""
    path = tmp_path / "c.json"
    path.write_text('{"v": ')
    with pytest.raises(CorruptFileError):
        update_json(path, lambda d: d)
    assert path.read_text() == '{"v": '


def test_update_json_lock_timeout(tmp_path):
    """A held lock makes update_json time out with LockTimeoutError naming the lock file."""
    path = tmp_path / "l.json"
    with FileLock(lock_path_for(path)), pytest.raises(LockTimeoutError, match=r"l\.json\.lock"):
        update_json(path, lambda d: d, default={}, lock_timeout=0.1)


async def test_async_shared_json(tmp_path):
    """The async variants read and update under the lock off the event loop."""
    path = tmp_path / "a.json"
    assert await async_update_json(path, lambda d: {"n": d["n"] + 1}, {"n": 0}) == {"n": 1}
    assert await async_atomic_read_json(path) == {"n": 1}
