"""Fit one IGDDetector across the processes of a ``torchrun`` launch (gloo, CPU).

Run by tests/test_distributed.py as
``python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_fit.py TRAIN.npy
TEST.npy OUTDIR``; each rank writes its weights, its scores of the test images, its
offset and the sample indices its batch iterator drew in every epoch.
"""

import json
import sys

import numpy as np
import torch
import torch.distributed as dist

from sklearn_igd import IGDDetector
from sklearn_igd._data import BatchIterator

PARAMS = dict(
    backbone="resnet18-lite",
    max_epochs=3,
    batch_size=16,
    local=False,
    random_state=0,
    n_threads=1,
)


def main(train, test, out):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    drawn = []
    original = BatchIterator.indices

    def recording(self):
        idx = original(self)
        if self.shuffle:
            drawn.append(idx.tolist())
        return idx

    BatchIterator.indices = recording
    det = IGDDetector(**PARAMS).fit(np.load(train))
    torch.save(det.net_.module_.state_dict(), f"{out}/weights{rank}.pt")
    np.save(f"{out}/scores{rank}.npy", det.anomaly_score(np.load(test)))
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"indices": drawn, "offset": det.offset_, "sigma2": det.sigma2_}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
