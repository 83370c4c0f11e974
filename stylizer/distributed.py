"""Sharing one job between processes started by ``torchrun`` (RANK, WORLD_SIZE, LOCAL_RANK):
training with DistributedDataParallel, and batch stylizing with the files dealt out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import StylizeError

if TYPE_CHECKING:
    import torch


def world_size() -> int:
    """How many processes ``torchrun`` started for this job (1: none), without PyTorch."""
    return int(os.environ.get("WORLD_SIZE", 1))


@contextmanager
def distributed(requested: torch.device) -> Iterator[tuple[int, int, torch.device]]:
    """Rank, world size and this rank's device: under torchrun, the GPU of its LOCAL_RANK (made
    current before the process group starts, and named to it, so NCCL never guesses) with
    NCCL, or the CPU with gloo when the CPU was asked for; otherwise (0, 1, ``requested``).

    A process group started here is ended here: left to interpreter shutdown, gloo's worker
    threads can abort the process (SIGABRT) after training has finished."""
    if world_size() < 2:
        yield 0, 1, requested
        return
    import torch

    device, backend, device_id = requested, "gloo", None
    if requested.type == "cuda":
        local, count = int(os.environ.get("LOCAL_RANK", 0)), torch.cuda.device_count()
        if local >= count:
            raise StylizeError(
                f"LOCAL_RANK {local}, but this machine has {count} GPU(s): start at most {count} "
                "processes a node (torchrun --nproc_per_node), or train on the CPU (--device cpu)"
            )
        device = device_id = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "nccl"
    started = not torch.distributed.is_initialized()
    if started:
        torch.distributed.init_process_group(backend, device_id=device_id)
    try:
        yield torch.distributed.get_rank(), torch.distributed.get_world_size(), device
    finally:
        if started:
            torch.distributed.destroy_process_group()
