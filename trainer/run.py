"""A run folder: its settings, atomic checkpoints and the log (``trainer.report`` draws the
loss curves and preview pages from them)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from stylizer.errors import StylizeError, first_line
from stylizer.files import atomic_output
from stylizer.styles.loading import resolve
from stylizer.styles.presets import MANIFEST
from stylizer.styles.weights import generator_from_state, read_state_dict, state_digest

from .settings import ADJUSTABLE, SESSION, Settings

if TYPE_CHECKING:
    from .tasks.base import Task

_NUMBERED = re.compile(r"step_(\d{8})\.pt")
#: A temporary file of ``atomic_output``: ``.NAME.XXXXXXXX.partSUFFIX``, NAME ending in SUFFIX.
_TEMPORARY = re.compile(r"\.(.+(\.\w+))\.\w{8}\.part\2")
#: Free space below which a failed write is put down to a full disk.
_FULL_BYTES = 64 * 2**20


def start_from(run: RunFolder, task: Task, source: str) -> dict:
    """Load a new run's starting weights from ``source`` (``--init-from``) and return the log
    record that says so.

    A run folder or training checkpoint gives every network. A preset (name or folder) or a
    generator weight file, the reference's ``latest_net_G_A.pth`` included, gives the generator
    that maps the run's first image set to its second; the discriminators (and CycleGAN's
    generator back) start fresh, so a shipped style can be fine-tuned on new images.
    """
    path = Path(source)
    if path.is_dir() and not (path / MANIFEST).is_file():
        path = RunFolder(path).latest
        if not path.is_file():
            raise StylizeError(f"{source}: a folder with no checkpoint (not a run folder)")
    elif not path.exists() and (path.suffix or "/" in source):
        raise StylizeError(f"{source}: no such run folder, checkpoint, preset or weight file")
    state = _checkpoint_in(path) if path.is_file() else None
    if state is not None:
        return {
            "from": str(path),
            "from_step": run.restore(task, path, nets_only=True, state=state),
        }
    weights, preset = resolve(source)
    loaded = generator_from_state(
        read_state_dict(weights), preset.spec if preset else None, str(weights)
    )
    target = task.generator_for("AtoB")
    state = loaded.state_dict()
    adopted_from = {}
    if replace(loaded.spec, dropout=False, arch="") != replace(target.spec, dropout=False, arch=""):
        state = None
    elif loaded.spec.arch != target.spec.arch:
        state = type(target).adopt(loaded)
        adopted_from = {"adopted_from": loaded.spec.arch}
    if state is None:
        raise StylizeError(
            f"{source}: holds a {loaded.spec.describe()}; this run trains a "
            f"{target.spec.describe()} (set --arch, --ngf, --depth and --norm to match)"
        )
    target.load_state_dict(state)
    steps = (preset.manifest.get("training") or {}).get("steps") if preset else None
    return {"from": str(weights), "from_step": steps, "generator_only": True} | adopted_from


def is_checkpoint(state: object) -> bool:
    """Whether a loaded file is a training checkpoint (networks, optimisers, step)."""
    return isinstance(state, dict) and "task" in state and "step" in state


def verified(state: dict, path: Path) -> dict:
    """The checkpoint without its digest, after checking it (checkpoints from before digests
    pass as they are)."""
    digest = state.pop("digest", None)
    if digest is not None and digest != state_digest(state):  # torch.load misses inner damage
        raise StylizeError(f"{path}: damaged checkpoint (its contents fail their checksum)")
    return state


def _checkpoint_in(path: Path) -> dict | None:
    """The training checkpoint (every network, optimisers, step) ``path`` holds, verified, or
    None for bare generator weights or anything else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None  # not ours; the weight-file reader says what is wrong with it
    return verified(state, path) if is_checkpoint(state) else None


class RunFolder:
    """The files of a run: settings, checkpoints and the log, and the lock on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings_path = root / "settings.json"
        self.latest = root / "checkpoints" / "latest.pt"
        self.log_path = root / "log.jsonl"
        self.previews = root / "previews"
        self.saved_step: int | None = None  # of the last checkpoint written or restored

    def exists(self) -> bool:
        return self.settings_path.is_file()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the run folder for a session: a second trainer on it meanwhile is a one-line
        error, not two sessions overwriting each other's checkpoints. The lock (flock, on the
        folder itself) goes with the process however it ends; holding it, this session is the
        folder's only writer, so it removes the temporary files a killed one left (a
        ``.latest.pt.*.part.pt`` is as big as a checkpoint). Where the file system has no locks,
        nothing is removed. A folder made here and left empty (the session failed before
        writing) is removed again."""
        made = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StylizeError(
                    f"{self.root}: another stylize-train is training in this folder; wait for "
                    "it to end, or choose another -o"
                ) from None
            except OSError:
                pass  # no locks on this file system: train, but never sweep
            else:
                self._sweep()
            yield
        finally:
            os.close(fd)
            if made:
                with suppress(OSError):  # only while empty
                    self.root.rmdir()

    def _sweep(self) -> None:
        """Remove the temporary files of unfinished writes in the run's own folders."""
        for folder in (self.root, self.latest.parent, self.previews):
            for path in folder.glob(".*.part*"):
                if _TEMPORARY.fullmatch(path.name) and path.is_file():
                    path.unlink(missing_ok=True)

    def numbered(self) -> list[tuple[int, Path]]:
        """The numbered checkpoints ``step_NNNNNNNN.pt``, oldest first."""
        found = []
        for path in self.latest.parent.glob("step_*.pt"):
            if m := _NUMBERED.fullmatch(path.name):
                found.append((int(m[1]), path))
        return sorted(found)

    def chosen_checkpoint(self, which: str, best_by: tuple[str, str] | None) -> tuple[Path, str]:
        """``latest``, ``best`` (the numbered checkpoint whose validation at its step is best by
        ``best_by``: early stopping after the fact), a step number or a checkpoint file; and a
        line saying why."""
        if which == "latest":
            return self.latest, "the latest checkpoint"
        numbered = dict(self.numbered())
        if which.isdigit():
            if int(which) not in numbered:
                have = ", ".join(str(n) for n in numbered) or "none"
                raise StylizeError(f"{self.root}: no checkpoint of step {which} (kept: {have})")
            return numbered[int(which)], f"the checkpoint of step {int(which)}"
        if which != "best":
            if Path(which).is_file():
                return Path(which), f"the checkpoint {which}"
            raise StylizeError(
                f"--checkpoint {which!r}: use latest, best, a step number or a checkpoint file"
            )
        if best_by is None:
            raise StylizeError("this kind of training has no validation figure to choose by")
        figure, better = best_by
        scored = {
            r["step"]: r[figure]
            for r in self.records()
            if r.get("kind") == "val" and figure in r and r["step"] in numbered
        }
        if not scored:
            raise StylizeError(
                f"{self.root}: no numbered checkpoint has a validation figure at its step (make "
                "--checkpoint-every a multiple of --preview-every, and keep them: "
                "--keep-checkpoints 0)"
            )
        pick = (min if better == "lower" else max)(scored, key=scored.__getitem__)
        why = (
            f"the best {figure} ({scored[pick]:.4g}, {better} is better) of {len(scored)} "
            f"validated checkpoints: step {pick}"
        )
        return numbered[pick], why

    def save_checkpoint(self, state: dict, step: int, keep: bool, keep_last: int = 0) -> None:
        """Write ``latest.pt`` atomically, plus a numbered copy (a file of its own) if ``keep``;
        then delete all but the newest ``keep_last`` numbered ones (0 keeps every one). Any
        other name in the folder, ``best.pt`` say, is the user's and never deleted.

        The state carries a digest of its tensors, so that damage anywhere in the file is found
        when it is loaded. A failed write (a full disk) is a one-line error that names the
        intact checkpoint still there."""
        folder = self.latest.parent
        try:
            with atomic_output(self.latest) as tmp:
                torch.save(state | {"digest": state_digest(state)}, tmp)
            self.saved_step = step
            self.log({"step": step, "kind": "checkpoint"})  # what latest.pt holds, if damaged
            if keep:
                with atomic_output(folder / f"step_{step:08d}.pt") as tmp:
                    shutil.copyfile(self.latest, tmp)
        except (OSError, RuntimeError) as e:
            raise StylizeError(self._write_failure(step, e)) from None
        if keep_last:
            for _, path in self.numbered()[:-keep_last]:
                path.unlink(missing_ok=True)

    def _write_failure(self, step: int, error: Exception) -> str:
        folder = self.latest.parent
        existing = next(p for p in (folder, *folder.parents) if p.is_dir())
        free = shutil.disk_usage(existing).free
        # torch.save reports a full disk as a RuntimeError without an errno: then free space says
        if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or (
            not isinstance(error, OSError) and free < _FULL_BYTES
        ):
            why = f"the disk is full ({free // 2**20} MiB free)"
        else:
            why = first_line(error)
        if self.saved_step is not None:
            intact = f"{self.latest} (step {self.saved_step}) is intact"
        elif self.latest.is_file():
            intact = f"{self.latest} from before this session is intact"
        else:
            intact = "no earlier checkpoint exists"
        return f"cannot write the checkpoint of step {step} in {folder}: {why}; {intact}"

    def load_checkpoint(self, path: Path | None = None) -> dict:
        """A checkpoint, verified: unreadable, incomplete or altered files are a one-line error."""
        path = path or self.latest
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise StylizeError(
                f"{path}: damaged or unreadable checkpoint ({first_line(e)})"
            ) from None
        if not is_checkpoint(state):
            raise StylizeError(f"{path}: damaged checkpoint (no networks or step in it)")
        return verified(state, path)

    def load_resumable(self, log: Callable[[str], None]) -> dict:
        """The latest checkpoint, or, when it is damaged, the newest intact numbered one, with
        a one-line notice of what that loses; a one-line error when none is intact."""
        try:
            return self.load_checkpoint()
        except StylizeError as damaged:
            saved = [r["step"] for r in self.records() if r.get("kind") == "checkpoint"]
            for step, path in reversed(self.numbered()):
                try:
                    state = self.load_checkpoint(path)
                except StylizeError:
                    continue
                loses = (
                    f"up to {saved[-1] - step} steps ({self.latest.name} held step {saved[-1]})"
                    if saved
                    else f"the steps {self.latest.name} held after it"
                )
                log(
                    f"{damaged}; resuming from {path.name} (step {step}) instead, which loses "
                    + loses
                )
                return state
            raise StylizeError(
                f"{damaged}; no intact numbered checkpoint to fall back on"
            ) from None

    def restore(
        self,
        task: Task,
        path: Path | None = None,
        nets_only: bool = False,
        state: dict | None = None,
    ) -> int:
        """Load a checkpoint (the latest by default, or ``path``'s ``state`` already read) into
        ``task``'s networks, optimisers and pools (only the networks with ``nets_only``); returns
        its step. A checkpoint of other networks is a one-line error."""
        path = path or self.latest
        state = self.load_checkpoint(path) if state is None else state
        self.saved_step = int(state["step"])
        try:
            task.load_state_dict(state["task"], nets_only)
        except (KeyError, RuntimeError) as e:
            # PyTorch heads its list of mismatches with "Error(s) in loading ...:"; name the first.
            lines = [x.strip() for x in str(e).splitlines() if x.strip()] or [type(e).__name__]
            first = next((x for x in lines if not x.endswith(":")), lines[0])
            raise StylizeError(f"{path}: does not match this run's networks ({first})") from None
        return int(state["step"])

    def log(self, record: dict) -> None:
        with self.log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def records(self) -> list[dict]:
        if not self.log_path.is_file():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def truncate_log(self, step: int) -> None:
        """Forget records after ``step``: a resumed run will write them again."""
        kept = [r for r in self.records() if r["step"] <= step]
        self.log_path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def check_settings(
        self,
        wanted: Settings | dict[str, Any] | None = None,
        changes: bool = False,
        log: Callable[[str], None] = print,
    ) -> Settings:
        """The settings to continue this run with: its own, or theirs changed by ``wanted`` (all
        of a command's settings, or a dict of those it sets). ``SESSION`` ones change (and
        are reported); the rest of ``ADJUSTABLE`` only when ``changes`` allows it; any other
        difference is a one-line error that names it, since other data or networks make a new
        run."""
        saved = Settings.load(self.settings_path)
        if not wanted:
            return saved
        task = wanted.task if isinstance(wanted, Settings) else wanted.get("task", saved.task)
        if task != saved.task:
            raise StylizeError(
                f"{self.root} holds a {saved.task} run; this is a {task} run. "
                "Choose another -o folder."
            )
        if isinstance(wanted, dict):
            wanted = Settings.from_dict(asdict(saved) | wanted, "the command")
        differ = saved.differences(wanted.resolve())
        if not differ:
            return saved
        fixed = [name for name in differ if name not in ADJUSTABLE | saved.adjustable]
        named = fixed or differ
        conflict = (
            f"{self.root} was made with {saved.describe(named)}; this command gives "
            f"{wanted.describe(named)}"
        )
        if fixed:
            raise StylizeError(
                f"{conflict}: other data or networks make a new run, so choose another -o "
                f"(stylize-train -o {self.root} continues this one as it was)"
            )
        if not changes and not set(differ) <= SESSION:
            raise StylizeError(
                f"{conflict}: add --resume-with-changes to continue this run with them, or "
                "choose another -o for a new run"
            )
        log(f"continuing {self.root} with {wanted.describe(differ)} (was {saved.describe(differ)})")
        return replace(saved, **{name: getattr(wanted, name) for name in differ})
