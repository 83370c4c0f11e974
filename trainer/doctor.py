"""The training doctor: watches the figures a run already records and says, in one line when a
failure starts and one when it ends, what is happening, why it matters and what to try.

It reads only what the task's steps return (every ``LOG_EVERY`` steps) and what validation
reports, so it costs no extra forward pass. It knows four failures:

- the discriminator winning: it tells real from generated images almost every time, for many
  steps (from each discriminator's ``*acc_real`` and ``*acc_fake``, which the task measures from
  the logits it computed anyway);
- mode collapse: generated images much less varied than real ones (``diversity`` against
  ``real_diversity``, where the task measures them);
- divergence: a loss that is not a number or explodes; not a number stops the session without
  saving, so the run keeps its last good checkpoint instead of training NaNs;
- no progress: the validation figure that picks the best checkpoint flat for many validations.

A task that does not report a figure gets no diagnosis that needs it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from stylizer.errors import StylizeError

#: Records (of ``LOG_EVERY`` steps each) a condition must hold over before it is diagnosed.
WINDOW = 20
#: Accuracy on both real and generated images above which the discriminator is winning...
WINNING = 0.95
#: ...and below which (on either) it no longer is.
NOT_WINNING = 0.85
#: Generated diversity, as a share of the real images', below which the generator collapsed...
COLLAPSED = 0.25
#: ...and above which it recovered.
RECOVERED = 0.4
#: Steps before mode collapse is judged: a new generator draws near-identical images at first.
COLLAPSE_WARMUP = 300
#: A loss this many times its running median (or ``LOSS_FLOOR``, whichever is larger: a
#: discriminator's loss near 0 that returns to 0.3 is no explosion) is exploding...
EXPLODING = 50.0
LOSS_FLOOR = 0.1
#: ...until it falls under this many times it.
CALMED = 10.0
#: Records in a row without a failure before it is said to be over.
QUIET = 10
#: Validations without a better figure (by this relative margin) that mean no progress.
FLAT_VALIDATIONS = 6
FLAT_MARGIN = 0.005


#: Parts of the names of the figures the doctor measures beside the losses.
MEASURES = ("acc", "grad", "diversity", "rests")


#: Settings that say a task's generator has a loss besides the adversarial one, and what it is.
_OWN_LOSSES = {
    "lambda_l1": "its L1 loss to the targets",
    "lambda_nce": "its contrastive loss",
    "teacher": "the teacher's outputs",
    "lambda_cycle": "its cycle loss",
}


@dataclass(frozen=True)
class Diagnosis:
    """One failure: what is happening, why it matters, what to try (with the flag)."""

    name: str
    what: str
    why: str
    remedy: str

    def line(self) -> str:
        return f"doctor: {self.what}: {self.why}" + (f". Try {self.remedy}" if self.remedy else "")


class Diverged(StylizeError):
    """A loss became NaN or infinite: the session stops without saving."""


@dataclass
class Doctor:
    """Diagnoses for one session of a run; ``say`` prints a line, ``record`` adds a log record."""

    say: Callable[[str], None]
    record: Callable[[dict], None]
    #: Flags the task has, to suggest only those that exist (``lr_d``, ``diffaugment``, ...).
    settings: frozenset[str]
    #: The validation figure that picks the best checkpoint, and ``lower`` or ``higher``.
    best_by: tuple[str, str] | None = None
    history: dict[str, deque[float]] = field(default_factory=dict)
    medians: dict[str, deque[float]] = field(default_factory=dict)
    active: dict[str, Diagnosis] = field(default_factory=dict)
    #: Looks in a row that an active diagnosis has not held, by key.
    gone: dict[str, int] = field(default_factory=dict)
    validations: list[float] = field(default_factory=list)

    def train(self, step: int, figures: dict[str, float]) -> None:
        """Look at one record of training figures (raises ``Diverged`` on NaN or infinity)."""
        bad = sorted(k for k, v in figures.items() if not math.isfinite(v))
        if bad:
            diagnosis = self._diverged(step, bad)
            self.record({"step": step, "kind": "doctor", "diagnosis": diagnosis.name, "state": "start", "message": diagnosis.line()})  # fmt: skip
            raise Diverged(diagnosis.line())
        for key, value in figures.items():
            self.history.setdefault(key, deque(maxlen=WINDOW)).append(value)
            self.medians.setdefault(key, deque(maxlen=50 * WINDOW)).append(abs(value))
        for prefix in sorted({k[: -len("acc_real")] for k in figures if k.endswith("acc_real")}):
            self._judge(step, f"{prefix}winning", self._winning(prefix))
        if "diversity" in figures and "real_diversity" in figures:
            self._judge(step, "collapse", self._collapse(step))
        self._judge(step, "exploding", self._exploding(figures))
        if "D_rests" in figures:
            self._judge(step, "balance", self._resting())

    def validated(self, step: int, metrics: dict[str, float]) -> None:
        """Look at one validation's figures: how varied the outputs are, and progress."""
        if "val_diversity" in metrics and metrics.get("val_real_diversity"):
            share = metrics["val_diversity"] / metrics["val_real_diversity"]
            limit = RECOVERED if "val-collapse" in self.active else COLLAPSED
            collapsed = step >= COLLAPSE_WARMUP and share < limit
            diagnosis = self._collapsed(share, "held-out") if collapsed else None
            self._judge(step, "val-collapse", diagnosis, patience=1)
        if self.best_by is None or self.best_by[0] not in metrics:
            return
        name, better = self.best_by
        value = metrics[name] if better == "higher" else -metrics[name]
        self.validations.append(value)
        if len(self.validations) <= FLAT_VALIDATIONS:
            return
        earlier = max(self.validations[:-FLAT_VALIDATIONS])
        recent = max(self.validations[-FLAT_VALIDATIONS:])
        flat = recent <= earlier + FLAT_MARGIN * abs(earlier)
        diagnosis = Diagnosis(
            "no-progress",
            f"no progress: {name} has not improved in the last {FLAT_VALIDATIONS} validations "
            f"(best {abs(earlier):.4g} before them)",
            "more steps at this rate are unlikely to help",
            "a lower --lr for the rest (stylize-train ... --lr 5e-5 --resume-with-changes), or "
            "stop here and export --checkpoint best",
        )
        self._judge(step, "no-progress", diagnosis if flat else None, patience=1)

    def _judge(
        self, step: int, key: str, diagnosis: Diagnosis | None, patience: int = QUIET
    ) -> None:
        """Say a diagnosis when it starts, and when it has been gone for ``patience`` looks in a
        row (so a failure that flickers on and off is one start and one end)."""
        if diagnosis is not None:
            self.gone.pop(key, None)
            if key not in self.active:
                self.active[key] = diagnosis
                self._tell(step, diagnosis, "start", diagnosis.line())
        elif key in self.active:
            self.gone[key] = self.gone.get(key, 0) + 1
            if self.gone[key] >= patience:
                ended = self.active.pop(key)
                del self.gone[key]
                self._tell(step, ended, "end", f"doctor: over: {ended.what.split(':')[0]}")

    def _tell(self, step: int, diagnosis: Diagnosis, state: str, line: str) -> None:
        self.say(f"step {step}: {line}")
        self.record({"step": step, "kind": "doctor", "diagnosis": diagnosis.name, "state": state, "message": line})  # fmt: skip

    def _mean(self, key: str) -> float | None:
        values = self.history.get(key)
        return sum(values) / len(values) if values and len(values) == WINDOW else None

    def _winning(self, prefix: str) -> Diagnosis | None:
        real, made = self._mean(f"{prefix}acc_real"), self._mean(f"{prefix}acc_fake")
        if real is None or made is None:
            return None
        key = f"{prefix}winning"
        holding = min(real, made) >= (NOT_WINNING if key in self.active else WINNING)
        if not holding:
            return None
        who = "the discriminator" if prefix in ("", "D_") else f"discriminator {prefix.rstrip('_')}"
        remedies = [f for f in ("--diffaugment color,translation,cutout" if "diffaugment" in self.settings else "",
                                "a lower --lr-d (say 1e-4)" if "lr_d" in self.settings else "a lower --lr",
                                "--balance") if f]  # fmt: skip
        gradient = ""
        if (now := self._mean("G_grad")) is not None:
            usual = sorted(self.medians["G_grad"])[len(self.medians["G_grad"]) // 2]
            gradient = f"; the generator's gradient is {now / max(usual, 1e-12):.0%} of its usual"
        return Diagnosis(
            "discriminator-wins",
            f"{who} is winning: it tells real images {real:.0%} and generated ones "
            f"{made:.0%} of the time over the last {WINDOW * 10} steps{gradient}",
            self._why_winning(),
            ", ".join(remedies[:-1]) + f" or {remedies[-1]}",
        )

    def _why_winning(self) -> str:
        """Why a winning discriminator matters, for this task: where the generator has a loss
        of its own besides the judge's, that loss still drives it, but the judge no longer adds
        the realism it is there for."""
        own = next((what for name, what in _OWN_LOSSES.items() if name in self.settings), None)
        if own:
            return (
                f"the generator still learns from {own}, but a judge it can never fool adds "
                "little of the sharpness and texture it is there for"
            )
        return (
            "a judge the generator can never fool gives it little to learn from (and often "
            "means it memorised the few real images)"
        )

    def _collapse(self, step: int) -> Diagnosis | None:
        made, real = self._mean("diversity"), self._mean("real_diversity")
        if made is None or not real or step < COLLAPSE_WARMUP:
            return None
        share = made / real
        if share >= (RECOVERED if "collapse" in self.active else COLLAPSED):
            return None
        return self._collapsed(share, "training")

    def _collapsed(self, share: float, where: str) -> Diagnosis:
        longer = ", a longer --latent vector" if "latent" in self.settings else ""
        return Diagnosis(
            "mode-collapse",
            f"mode collapse: generated images ({where}) are {share:.0%} as varied as real ones",
            "the generator has found a few images that fool the discriminator and makes only "
            "those, whatever its input",
            f"--diffaugment color,translation,cutout, a lower --lr{longer}, or go back to an "
            "earlier checkpoint",
        )

    def _resting(self) -> Diagnosis | None:
        rests = self.history["D_rests"]
        if not any(rests):
            return None
        return Diagnosis(
            "balance",
            "balance: the discriminator rests (skips its update) while its loss is under a "
            "tenth of chance",
            "--balance holds it back until the generator catches up",
            "",
        )

    def _exploding(self, figures: dict[str, float]) -> Diagnosis | None:
        limit = CALMED if "exploding" in self.active else EXPLODING
        for key, value in figures.items():
            history = sorted(self.medians[key])
            if len(history) < WINDOW or key == "steps_per_s" or any(m in key for m in MEASURES):
                continue
            median = max(history[len(history) // 2], LOSS_FLOOR)
            if abs(value) > limit * median:
                return Diagnosis(
                    "exploding",
                    f"{key} is exploding: {value:.4g}, {abs(value) / median:.0f}x its usual size",
                    "training is becoming unstable and may diverge to NaN",
                    "a lower --lr (half), continuing with --resume-with-changes",
                )
        return None

    def _diverged(self, step: int, keys: list[str]) -> Diagnosis:
        return Diagnosis(
            "divergence",
            f"training diverged at step {step}: {', '.join(keys)} became NaN or infinite",
            "this session stops without saving; the run keeps its last checkpoint",
            "continuing with half the learning rate (the same command with --lr lower and "
            "--resume-with-changes)",
        )
