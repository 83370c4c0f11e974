"""The training loop: data, steps, learning-rate schedule, validation, previews, checkpoints.

Every step reseeds the global RNG from (seed, step) and every sample carries its own seed, so
the state at step N is a function of the settings and N alone: resuming from a checkpoint gives
the same weights as never stopping.
"""

from __future__ import annotations

import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from stylizer.device import resolve_device
from stylizer.distributed import distributed
from stylizer.errors import StylizeError
from stylizer.progress import Progress
from stylizer.signals import STOP_SIGNALS, Stopped, ignored

from .dashboard import Dashboard
from .data import StepSampler
from .doctor import Doctor
from .report import TIMELAPSE_FPS, plot_losses, save_preview, write_timelapse
from .run import RunFolder, start_from
from .settings import Settings
from .tasks import TASKS, Task

PREVIEW_SAMPLES = 4
#: Runs longer than this (seconds) at the measured rate get a warning and suggestions.
LONG_RUN_S = 3 * 3600
#: Steps between loss records (and the only host synchronisations of a GPU step).
LOG_EVERY = 10


def build_data(s: Settings, warn: Callable[[str], None], run_root: Path):
    """Training and held-out datasets, as the settings' task reads its folders."""
    return TASKS[s.task].datasets(s, warn, run_root)


@dataclass
class Outcome:
    step: int
    total: int
    #: The signal that stopped the session early (after saving), if one did.
    signal: int | None = None

    @property
    def interrupted(self) -> bool:
        return self.signal is not None


def lr_factor(s: Settings, epoch: int) -> float:
    """Constant for ``epochs``, then linear decay to 0 over ``decay_epochs`` (the reference's)."""
    assert s.epochs is not None and s.decay_epochs is not None, "settings not resolved"
    return 1.0 - max(0, epoch + 1 - s.epochs) / float(s.decay_epochs + 1)


def hardware(device: torch.device, world: int = 1) -> str:
    """What a session trains on, for the exported preset's record."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = next(
            (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
            platform.machine(),
        )
        threads = torch.get_num_threads()
        name = f"{name} CPU, {threads} thread{'s' if threads > 1 else ''}"
    return f"{world} x {name}" if world > 1 else name


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


class _StopRequest:
    """The first Ctrl-C, SIGTERM (``kill``, ``timeout``, ``docker stop``, a scheduler's
    pre-emption) or SIGHUP asks the loop to stop after the current step and save; a second one
    stops at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                if not ignored(number):  # SIGHUP under nohup stays ignored
                    self.previous[number] = signal.signal(number, self._handle)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, number: int, _frame) -> None:
        if self.requested:
            raise Stopped(number)
        self.signal = number

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def stop_agreed(stop: _StopRequest, step: int, world: int, device: torch.device) -> bool:
    """Whether to stop before this step. Under torchrun every rank gets the signal but may see
    it at another step, and a rank that stopped alone would leave the others waiting in an
    all-reduce: so ranks agree, every ``LOG_EVERY`` steps (one small all-reduce), to stop."""
    if world == 1:
        return stop.requested
    if step % LOG_EVERY:
        return False
    flag = torch.tensor([float(stop.requested)], device=device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    if flag.item() and not stop.requested:
        stop.signal = signal.SIGTERM  # another rank's signal
    return bool(flag.item())


def train(
    settings: Settings | dict[str, Any] | None,
    run_dir: str | Path,
    *,
    device: str = "auto",
    stop_after: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
    changes: bool = False,
) -> Outcome:
    """Train into ``run_dir``, continuing from its latest checkpoint if it has one.

    ``settings`` may be None to continue an existing run with its saved settings, or a dict of
    the settings to change; a continued run refuses other settings, except those
    ``RunFolder.check_settings`` lets ``changes`` change. ``stop_after`` ends this session after
    that many steps (the run can be resumed later).
    """
    run = RunFolder(Path(run_dir))
    if run.exists():
        s = run.check_settings(settings, changes, log)
    elif not isinstance(settings, Settings):
        raise StylizeError(f"{run_dir}: not a run folder (no settings.json) and no data given")
    else:
        s = settings.resolve()
    with (
        distributed(resolve_device(device)) as (rank, world, dev),
        run.held() if rank == 0 else nullcontext(),
    ):
        return _session(s, run, dev, rank, world, stop_after=stop_after, progress=progress, log=log)


def _session(
    s: Settings,
    run: RunFolder,
    dev: torch.device,
    rank: int,
    world: int,
    *,
    stop_after: int | None,
    progress: bool,
    log: Callable[[str], None],
) -> Outcome:
    """One training session of ``train`` on this process (one rank of ``world``)."""
    said: Callable[[str], None] = log if rank == 0 else lambda m: None
    assert s.batch_size and s.epochs is not None and s.decay_epochs is not None, "not resolved"
    train_set, val_set = build_data(s, log, run.root)
    steps_per_epoch = s.steps_per_epoch or max(1, len(train_set) // (s.batch_size * world))
    total = (s.epochs + s.decay_epochs) * steps_per_epoch
    torch.manual_seed(s.seed)
    task = TASKS[s.task](s, dev)
    step = _start(s, run, task, rank, total, log)
    task.prepare(train_set, val_set, said, progress and rank == 0, rank, world)
    loader = DataLoader(
        train_set,
        batch_size=s.batch_size,
        sampler=StepSampler(len(train_set), s.seed, step * s.batch_size, rank, world),
        num_workers=s.workers,
        worker_init_fn=_leave_stops_to_the_trainer,
        persistent_workers=False,
        pin_memory=dev.type == "cuda",
    )
    val_batch = next(iter(DataLoader(val_set, batch_size=len(val_set)))) if len(val_set) else None
    bar = Progress(f"training {run.root}", "step", total, progress and rank == 0, initial=step)
    if rank == 0:
        run.log({"step": step, "kind": "session", "hardware": hardware(dev, world)})
    dashboard = Dashboard(run.root, step) if s.tensorboard and rank == 0 else None
    doctor = _doctor(s, run, task, bar, said, dashboard)
    steps = _Steps(s, run, task, rank, world, dev, bar, val_batch, steps_per_epoch, total, doctor)
    steps.dashboard = dashboard
    end = total if stop_after is None else min(total, step + stop_after)
    said(summary(s, task, len(train_set), len(val_set), step, total, steps_per_epoch))
    if task.figures:
        said(task.figures)
    stop = _StopRequest()
    try:
        if step == 0 and end > 0:
            steps.preview(0)  # what the untrained networks make: the first preview, at once
        step = steps.run_until(iter(loader), step, end, stop)
        if task.timelapse and rank == 0 and (video := write_timelapse(run)):
            said(f"wrote {video}: the previews so far, {TIMELAPSE_FPS} a second")
        if stop.requested:
            steps.checkpoint(step, keep=False)
            name = signal.Signals(stop.signal or signal.SIGTERM).name
            log(f"interrupted ({name}): saved step {step}; run the same command again to continue")
    finally:
        stop.restore()
        bar.close()
        if dashboard:
            dashboard.close()
    return Outcome(step, total, stop.signal)


def _doctor(
    s: Settings,
    run: RunFolder,
    task: Task,
    bar: Progress,
    said: Callable[[str], None],
    dashboard: Dashboard | None,
) -> Doctor:
    """The session's doctor: its lines go over the bar, into the log and to TensorBoard."""

    def over_bar(message: str) -> None:
        with bar.message():
            said(message)

    def kept(record: dict) -> None:
        run.log(record)
        if dashboard:
            dashboard.text(record["step"], record["message"])

    return Doctor(over_bar, kept, frozenset(vars(s)), task.best_by)


def summary(
    s: Settings, task: Task, training: int, held_out: int, step: int, total: int, per_epoch: int
) -> str:
    """What the session will do, said at its start."""
    sizes = {name: sum(p.numel() for p in net.parameters()) for name, net in task.nets.items()}
    generator = sum(p.numel() for p in task.generator_for("AtoB").parameters())
    others = sum(sizes.values()) - sum(n for name, n in sizes.items() if name.startswith("G"))
    where = f"from step {step} " if step else ""
    return (
        f"{s.task}: {training} training images, {held_out} held out; {where}to step {total} "
        f"({(s.epochs or 0) + (s.decay_epochs or 0)} epochs of {per_epoch} steps, "
        f"{s.batch_size} image(s) each); generator {generator / 1e6:.2f} M parameters"
        + (f", the other networks {others / 1e6:.2f} M" if others else "")
    )


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _leave_stops_to_the_trainer(_worker: int) -> None:
    """In a data-loading worker: ignore stop signals. Sent to the whole process group (by a
    terminal's Ctrl-C, systemd, a scheduler), they would kill the workers before the trainer
    saves, and it would die of their deaths instead; the trainer saves, then ends them."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def _start(
    s: Settings, run: RunFolder, task: Task, rank: int, total: int, log: Callable[[str], None]
) -> int:
    """The step this session starts at: a resumed run's, or 0 for a new run (from the weights
    ``init_from`` names, if any), whose settings are saved first."""
    if run.latest.is_file() or run.numbered():  # latest.pt missing: the newest numbered one
        step = run.restore(task, state=run.load_resumable(log if rank == 0 else lambda m: None))
        if rank == 0:
            log(f"resuming {run.root} at step {step} of {total}")
            run.truncate_log(step)
            s.save(run.settings_path)  # with the changes check_settings allowed, if any
        return step
    origin = None
    if s.init_from:
        origin = {"step": 0, "kind": "init"} | start_from(run, task, s.init_from)
    if rank == 0:
        run.root.mkdir(parents=True, exist_ok=True)
        s.save(run.settings_path)
        run.truncate_log(0)  # a run that stopped before its first checkpoint starts over
        if origin:
            run.log(origin)
            what = "the generator" if origin.get("generator_only") else "the networks"
            at = "" if origin["from_step"] is None else f" (step {origin['from_step']})"
            adopted = origin.get("adopted_from")
            how = f", its {adopted} up-samplings made resize-convolutions" if adopted else ""
            log(f"starting from {what} of {origin['from']}{at}{how}")
    return 0


@dataclass
class _Steps:
    """The steps of a session, with their logging, previews and checkpoints (on rank 0)."""

    s: Settings
    run: RunFolder
    task: Task
    rank: int
    world: int
    dev: torch.device
    bar: Progress
    val_batch: Any
    steps_per_epoch: int
    total: int
    doctor: Doctor
    estimated: bool = False
    dashboard: Dashboard | None = None

    def log(self, message: str) -> None:
        """Say something as the doctor does (the bar stays intact)."""
        self.doctor.say(message)

    def run_until(self, data: Iterator, step: int, end: int, stop: _StopRequest) -> int:
        """Train from ``step`` until ``end`` or an agreed stop; returns the step reached."""
        s, started, t0 = self.s, step, time.monotonic()
        assert s.lr is not None, "settings not resolved"
        while step < end and not stop_agreed(stop, step, self.world, self.dev):
            batch = next(data)
            epoch = step // self.steps_per_epoch
            rates = self.task.learning_rates()
            for name, opt in self.task.optims.items():
                for group in opt.param_groups:
                    group["lr"] = rates[name] * lr_factor(s, epoch)
            torch.manual_seed(s.seed * 7919 + step)
            losses = self.task.train_step(batch)
            step += 1
            if self.rank == 0 and (
                step % LOG_EVERY == 0 or step == end or step % s.checkpoint_every == 0
            ):  # before every checkpoint, so that the doctor never lets one hold NaNs
                elapsed = time.monotonic() - t0
                rate = (step - started) / max(elapsed, 1e-9)
                self.record(step, epoch, rate, losses)
                if not self.estimated and (elapsed > 20 or step - started >= 100 or step == end):
                    self.estimate(step, rate)
            self.bar.update()
            if step % s.preview_every == 0 or step == self.total:
                self.preview(step)
            if step % s.checkpoint_every == 0 or step == end:
                self.checkpoint(step, keep=step % s.checkpoint_every == 0 or step == self.total)
        return step

    def estimate(self, step: int, rate: float) -> None:
        """Say, once a session, how long the rest of the run takes at the rate measured, and
        when the next preview comes; warn when it is many hours."""
        self.estimated = True
        left = (self.total - step) / max(rate, 1e-9)
        preview = (step // self.s.preview_every + 1) * self.s.preview_every
        self.log(
            f"at {rate:.3g} steps/s here, the remaining {self.total - step} steps take "
            f"{_duration(left)}; the next preview is at step {preview} (in "
            f"{_duration((preview - step) / max(rate, 1e-9))})"
        )
        if left > LONG_RUN_S:
            self.log(
                "that is many hours on this machine: train in sessions (--stop-after N, then "
                "the same command continues), or make it smaller (fewer --epochs, a smaller "
                "--crop-size or --ngf), or train on a GPU"
            )

    def record(self, step: int, epoch: int, rate: float, losses: dict) -> None:
        losses = {k: float(v) for k, v in losses.items()}  # the one host sync
        lr = (self.s.lr or 0.0) * lr_factor(self.s, epoch)
        entry = {"step": step, "kind": "train", "epoch": epoch, "lr": lr, "steps_per_s": rate}
        self.run.log(entry | losses)
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in list(losses.items())[:4]})
        if self.dashboard:
            self.dashboard.scalars(step, losses | {"steps_per_s": rate}, "train")
        self.doctor.train(step, losses)

    def validation_line(self, step: int, metrics: dict[str, float]) -> str:
        """The validation's figures, the best so far, where the previews are, when the next is."""
        figures = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        best_by = self.task.best_by
        if best_by and best_by[0] in metrics:
            name, better = best_by
            earlier = [r for r in self.run.records() if r.get("kind") == "val" and name in r]
            pick = min if better == "lower" else max
            best = pick(earlier, key=lambda r: r[name])
            figures += f" (best {name} {best[name]:.4g} at step {best['step']}, {better} is better)"
        preview = min(self.total, (step // self.s.preview_every + 1) * self.s.preview_every)
        after = f"; the next at step {preview}" if preview > step else ""
        return f"step {step}: {figures}; previews in {self.run.previews / 'index.html'}{after}"

    def checkpoint(self, step: int, keep: bool) -> None:
        if self.rank == 0:
            state = {"task": self.task.state_dict(), "step": step}
            self.run.save_checkpoint(state, step, keep, self.s.keep_checkpoints)

    def preview(self, step: int) -> None:
        if self.rank != 0 or self.val_batch is None:
            return
        metrics, images = self.task.evaluate(self.val_batch)
        self.run.log({"step": step, "kind": "val", **metrics})
        self.doctor.validated(step, metrics)
        self.log(self.validation_line(step, metrics))
        shown = images[: PREVIEW_SAMPLES * self.task.preview_rows * len(self.task.preview_columns)]
        grid = save_preview(
            self.run, step, shown, self.task.preview_columns, self.task.preview_note
        )
        if self.dashboard:
            self.dashboard.scalars(step, metrics, "val")
            self.dashboard.image(step, grid)
        plot_losses(self.run, self.task.best_by)
