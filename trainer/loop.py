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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from stylizer.distributed import distributed
from stylizer.errors import StylizeError
from stylizer.progress import Progress
from stylizer.signals import STOP_SIGNALS, Stopped, ignored

from .data import StepSampler
from .run import RunFolder, start_from
from .settings import Settings
from .tasks import TASKS

PREVIEW_SAMPLES = 4
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


def training_device(name: str = "auto") -> torch.device:
    """``auto`` is the first GPU when there is one, else the CPU; otherwise the device named."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise StylizeError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None


class _StopRequest:
    """The first Ctrl-C, SIGTERM (``kill``, ``timeout``, ``docker stop``, a scheduler's
    pre-emption) or SIGHUP asks the loop to stop after the current step and save; a second one
    stops at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.previous: dict[int, object] = {}
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
    settings: Settings | None,
    run_dir: str | Path,
    *,
    device: str = "auto",
    stop_after: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Train into ``run_dir``, continuing from its latest checkpoint if it has one.

    ``settings`` may be None to continue an existing run with its saved settings; ``stop_after``
    ends this session after that many steps (the run can be resumed later).
    """
    run = RunFolder(Path(run_dir))
    if run.exists():
        s = run.check_settings(settings)
    elif settings is None:
        raise StylizeError(f"{run_dir}: not a run folder (no settings.json) and no data given")
    else:
        s = settings.resolve()
    with distributed(training_device(device)) as (rank, world, dev):
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
    train_set, val_set = build_data(s, log, run.root)
    steps_per_epoch = s.steps_per_epoch or max(1, len(train_set) // (s.batch_size * world))
    total = (s.epochs + s.decay_epochs) * steps_per_epoch

    torch.manual_seed(s.seed)
    task = TASKS[s.task](s, dev)
    step = 0
    if run.latest.is_file() or run.numbered():  # latest.pt missing: the newest numbered one
        step = run.restore(task, state=run.load_resumable(log if rank == 0 else lambda m: None))
        if rank == 0:
            log(f"resuming {run.root} at step {step} of {total}")
            run.truncate_log(step)
    else:
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
                log(f"starting from {what} of {origin['from']}{at}")

    task.prepare(
        train_set,
        val_set,
        log if rank == 0 else lambda m: None,
        progress and rank == 0,
        rank,
        world,
    )
    loader = DataLoader(
        train_set,
        batch_size=s.batch_size,
        sampler=StepSampler(len(train_set), s.seed, step * s.batch_size, rank, world),
        num_workers=s.workers,
        persistent_workers=False,
        pin_memory=dev.type == "cuda",
    )
    val_batch = next(iter(DataLoader(val_set, batch_size=len(val_set)))) if len(val_set) else None
    end = total if stop_after is None else min(total, step + stop_after)
    bar = Progress(f"training {run.root}", "step", total, progress and rank == 0, initial=step)
    outcome = Outcome(step, total)

    def checkpoint(keep: bool) -> None:
        if rank == 0:
            run.save_checkpoint(
                {"task": task.state_dict(), "step": step}, step, keep, s.keep_checkpoints
            )

    def preview() -> None:
        if rank != 0 or val_batch is None:
            return
        metrics, images = task.evaluate(val_batch)
        run.log({"step": step, "kind": "val", **metrics})
        shown = images[: PREVIEW_SAMPLES * task.preview_rows * len(task.preview_columns)]
        run.save_preview(step, shown, task.preview_columns)
        run.plot_losses()

    if rank == 0:
        run.log({"step": step, "kind": "session", "hardware": hardware(dev, world)})
    data = iter(loader)
    started, t0 = step, time.monotonic()
    stop = _StopRequest()
    try:
        while step < end and not stop_agreed(stop, step, world, dev):
            batch = next(data)
            epoch = step // steps_per_epoch
            for opt in task.optims.values():
                for group in opt.param_groups:
                    group["lr"] = s.lr * lr_factor(s, epoch)
            torch.manual_seed(s.seed * 7919 + step)
            losses = task.train_step(batch)
            step += 1
            if rank == 0 and (step % LOG_EVERY == 0 or step == end):
                losses = {k: float(v) for k, v in losses.items()}  # the one host sync
                rate = (step - started) / max(time.monotonic() - t0, 1e-9)
                run.log(
                    {
                        "step": step,
                        "kind": "train",
                        "epoch": epoch,
                        "lr": s.lr * lr_factor(s, epoch),
                        "steps_per_s": rate,
                        **losses,
                    }
                )
                bar.set_postfix({k: f"{v:.3f}" for k, v in list(losses.items())[:4]})
            bar.update()
            if step % s.preview_every == 0 or step == total:
                preview()
            if step % s.checkpoint_every == 0 or step == end:
                checkpoint(keep=step % s.checkpoint_every == 0 or step == total)
        if stop.requested:
            checkpoint(keep=False)
            outcome.signal = stop.signal
            name = signal.Signals(stop.signal).name
            log(f"interrupted ({name}): saved step {step}; run the same command again to continue")
    finally:
        stop.restore()
        bar.close()
    outcome.step = step
    return outcome
