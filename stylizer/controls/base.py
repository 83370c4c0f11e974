"""What every creative control shares: the registry, options declared once, and resizing.

A control is a frozen dataclass of its own settings, each a field made with ``option`` (its type
from the annotation; its default, range and help given once). That one declaration makes the
``stylize`` option (``click_options``), the ``StyleOptions`` keyword and the range check. A
control acts on either side of the model, or both: ``model_scale`` picks the size the model runs
at; ``finish``, when the control is ``active``, changes the model's output, in registry order,
after temporal smoothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, get_args, get_type_hints

import click
import cv2
import numpy as np

from ..errors import StylizeError
from ..registry import Registry

F = TypeVar("F", bound=Callable[..., Any])

CONTROLS: Registry[Control] = Registry("creative control")
register_control = CONTROLS.register


def option(default: Any, help: str, *, between: tuple[float, float] | None = None) -> Any:
    """A control's setting, declared once for the command line, ``StyleOptions`` and the range
    check: ``--NAME`` (the field's name, dashed), a flag for a ``bool``, values ``between`` the
    two bounds (inclusive) when given."""
    return field(default=default, metadata={"help": help, "between": between})


@dataclass(frozen=True)
class Control:
    """A creative control with no effect; subclasses declare settings and override the hooks."""

    name: ClassVar[str]

    @property
    def active(self) -> bool:
        """Whether ``finish`` changes anything: with no control active, the model's output is
        the result as it is."""
        return False

    def model_scale(self, height: int, width: int) -> float | None:
        """The fraction of a ``height`` x ``width`` frame's size the model runs at (the result is
        resized back); None leaves it to the other controls, then the preset's working size."""

    def finish(self, original: np.ndarray, styled: np.ndarray) -> np.ndarray:  # noqa: ARG002 (the default: a subclass may use it)
        """What this control makes of ``styled``, the model's result for ``original`` (both HxWxC
        in the model's channels, of one sample type)."""
        return styled

    def check(self) -> None:
        """A one-line error for a setting outside its declared range (the command line refuses
        the same values)."""
        for f in fields(self):
            value, between = getattr(self, f.name), f.metadata["between"]
            if value is not None and between and not between[0] <= value <= between[1]:
                raise StylizeError(
                    f"{_flag(f)} {value}: give a value from {between[0]:g} to {between[1]:g}"
                )


def option_names() -> set[str]:
    """Every registered control's settings, by name."""
    return {f.name for control in CONTROLS.values() for f in fields(control)}


def configured(values: Mapping[str, Any]) -> tuple[Control, ...]:
    """Every registered control, in the order they apply, with the settings ``values`` names
    (the others at their defaults)."""
    if unknown := set(values) - option_names():
        raise TypeError(f"no creative control has the setting {', '.join(sorted(unknown))}")
    return tuple(
        control(**{f.name: values[f.name] for f in fields(control) if f.name in values})
        for control in CONTROLS.values()
    )


def click_options(command: F) -> F:
    """``command`` with an option for every setting of every registered control, in the order
    the controls apply."""
    for control in reversed(CONTROLS.values()):
        hints = get_type_hints(control)
        for f in reversed(fields(control)):
            command = _click_option(f, hints[f.name])(command)
    return command


def _click_option(f: Field[Any], hint: Any) -> Callable[[F], F]:
    kind = next(t for t in get_args(hint) or (hint,) if t is not type(None))  # X | None: X
    help, between = f.metadata["help"], f.metadata["between"]
    if kind is bool:
        return click.option(_flag(f), is_flag=True, default=f.default, help=help)
    ranges: dict[type, Callable[..., click.ParamType]] = {
        float: click.FloatRange,
        int: click.IntRange,
    }
    return click.option(
        _flag(f),
        type=ranges[kind](*between) if between else kind,
        default=f.default,
        show_default=f.default is not None,
        help=help,
    )


def _flag(f: Field[Any]) -> str:
    return "--" + f.name.replace("_", "-")


def scaled(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` resized to ``width`` x ``height`` (area when shrinking, cubic when growing),
    keeping its channel axis."""
    shrink = width * height < image.shape[0] * image.shape[1]
    out = cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )
    return out.reshape(height, width, *image.shape[2:])
