"""Writing a set of output files as one unit: staged, swapped in, stamped with a run id.

A command's outputs (a run's metrics.json, CSVs and report.html; a sweep's tables and
page) are written to a hidden staging folder inside the output folder, then renamed
into place one by one with Ctrl-C held back, and the manifest ``run.json`` is written
last. Files of the previous set that this one does not rewrite (report.html after a
``--no-html`` run) are removed, so a folder never mixes two runs. The manifest lists
each file with its SHA-256 and the run id; the run id is a digest of the run's data
files, so the same run gives the same id (and the same bytes) every time. metrics.json
carries it as ``run_id``, the HTML pages as ``<meta name="eastwind-run-id">`` and
results.parquet in its schema metadata; CSVs are tied to it by the manifest alone, so
that pandas and other readers see plain tables.

A process killed between the renames (power loss, ``kill -9``) can still leave a mix;
the manifest then is missing, or a file's hash differs from it.

Only the standard library and `engine.errors` are imported here, so that a command
checks its output paths (`require_writable_folder`) before it imports the simulation or
the reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import OutputError

MANIFEST = "run.json"
RUN_ID_META = "eastwind-run-id"
_STAGING_PREFIX = ".eastwind-"


def run_id_of(files: Mapping[str, str | bytes]) -> str:
    """Return the run id of a set of files: 16 hex digits of a SHA-256 over names and bytes."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = _bytes(files[name])
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def _bytes(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _nearest_existing(path: Path) -> Path:
    probe = path.absolute()
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def _blocking_file(path: Path) -> Path | None:
    """The first component of `path` (itself included) that exists and is not a folder."""
    probe = path.absolute()
    for part in (*reversed(probe.parents), probe):
        if os.path.lexists(part) and not os.path.isdir(part):
            return part
    return None


def require_writable_folder(path: Path, setting: str) -> None:
    """Raise `OutputError` unless `path` is, or can be created as, a writable folder.

    `setting` names where the path came from (``--out``, or the config's
    ``report.out`` with its file and line), for the message. Nothing is created.
    """
    blocking = _blocking_file(path)
    if blocking is not None:
        what = "is a file" if blocking == path.absolute() else f"is under the file {blocking}"
        raise OutputError(f"{setting}: {path} {what}; give a folder to write the outputs into")
    existing = _nearest_existing(path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"{setting}: cannot write into {existing} (permission denied); "
            "give a folder you can write to"
        )


def require_writable_file(path: Path, setting: str) -> None:
    """Raise `OutputError` unless a file can be written at `path` (its folder may be new)."""
    if os.path.isdir(path):
        raise OutputError(f"{setting}: {path} is a folder; give a file name, e.g. {path}/out.xml")
    blocking = _blocking_file(path.parent)
    if blocking is not None:
        raise OutputError(
            f"{setting}: {path} is under the file {blocking}; give a path in a folder"
        )
    existing = _nearest_existing(path.parent)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"{setting}: cannot write into {existing} (permission denied); "
            "give a path you can write to"
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_file(path: Path, data: str | bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~_umask())
    with os.fdopen(fd, "wb") as handle:
        handle.write(_bytes(data))


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` through a temporary file in the same folder, then rename.

    An `OSError` (no space, no permission) becomes one `OutputError` line naming `path`.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(_bytes(text))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for secrets, not reports
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for the block, then raise it; a no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """Return the manifest of `folder`, or None when it has none (or not one of ours)."""
    try:
        document = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("files"), dict):
        return None
    return document


def _plain_names(names: Iterable[object]) -> set[str]:
    # a manifest names files in its own folder; anything else is never deleted
    return {n for n in names if isinstance(n, str) and n == Path(n).name and n[:1] not in ("", ".")}


def write_set(
    out: Path,
    files: Mapping[str, str | bytes],
    manifest: Mapping[str, Any],
    replaces: Iterable[str] = (),
) -> list[Path]:
    """Write `files` into `out` as one set and return their paths (manifest last).

    `manifest` holds what describes the set (``command``, ``name``, ``run_id``,
    ``complete``); the file list and hashes are added here. The files the previous
    manifest in `out` listed and this set lacks are removed; without a previous manifest,
    the `replaces` names are (the files this command writes, from older versions).
    """
    document = {
        **manifest,
        "eastwind": __version__,
        "files": {
            name: {"bytes": len(_bytes(data)), "sha256": hashlib.sha256(_bytes(data)).hexdigest()}
            for name, data in sorted(files.items())
        },
    }
    manifest_text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out, prefix=_STAGING_PREFIX, suffix=".tmp"))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    try:
        os.chmod(staging, 0o777 & ~_umask())
        for name, data in files.items():
            _write_file(staging / name, data)
        _write_file(staging / MANIFEST, manifest_text)
        previous = read_manifest(out)
        listed = previous["files"] if previous is not None else replaces
        stale = _plain_names(listed) - set(files) - {MANIFEST}
        with interrupts_deferred():
            (out / MANIFEST).unlink(missing_ok=True)  # no manifest: the set is not whole
            for name in files:
                os.replace(staging / name, out / name)
            for name in stale:
                (out / name).unlink(missing_ok=True)
            os.replace(staging / MANIFEST, out / MANIFEST)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in files] + [out / MANIFEST]


def discard_set(folder: Path, command: str) -> bool:
    """Remove a set `command` wrote to `folder` (its files, manifest, then the folder if empty).

    Only files the folder's manifest lists are removed. Return whether a set was there.
    """
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("command") != command:
        return False
    with interrupts_deferred():
        (folder / MANIFEST).unlink(missing_ok=True)
        for name in _plain_names(manifest["files"]):
            (folder / name).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # the user keeps other files there
    return True
