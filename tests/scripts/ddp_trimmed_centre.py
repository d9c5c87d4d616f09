"""The trimmed E-step's centre across the processes of a ``torchrun`` launch (gloo, CPU).

Run by tests/test_distributed.py as
``python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_trimmed_centre.py
OUTDIR``; rank ``r`` of ``w`` holds the codes ``codes()[r::w]`` (shards of unequal size)
and writes the mask and centre that :func:`~sklearn_igd._net.trimmed_centre` returns
and the mask of all 101 codes that :func:`~sklearn_igd._net.gather_shards` puts together.
"""

import sys

import torch
import torch.distributed as dist

from sklearn_igd._net import gather_shards, trimmed_centre

SUPPORT = 0.85


def codes():
    """101 codes (101, 4), the first 10 far from the rest."""
    z = torch.randn(101, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z[:10] += 8.0
    return z


def main(out):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    keep, mu = trimmed_centre(codes()[rank::world], SUPPORT)
    full = gather_shards(keep)
    torch.save({"keep": keep, "mu": mu, "full": full}, f"{out}/trimmed{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
