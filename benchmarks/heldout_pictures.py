"""Localisation on photographs never used for a design choice (held-out pictures).

Every choice behind the heatmap and the image score of the defaults (the balanced terms,
the smoothing, the feature map and its trunk, the top 10% image score) was made on
validation draws of scikit-image's brick, grass and gravel photographs and on synthetic
silhouettes. This script paints the same synthetic defects (``make_texture_defects`` with
a photograph of its own) on other photographs that ship with scikit-image, converted to
grey, and measures ``IGDDetector(random_state=seed)`` with nothing else set exactly as
the texture demo does (``examples/demo_textures.py``'s ``run_texture``): image AUROC of
the combined score, of the global model alone and of the local part, beside
IsolationForest and OneClassSVM with paired bootstrap intervals; pooled and per-image
pixel AUROC and AUPRO of the combined heatmap and of each model's part. Nothing was
tuned on these results.

    python benchmarks/heldout_pictures.py [--pictures moon,camera,...,china,flower] [--n-test 500]
        [--split halves|tiles] [--threads 2] [--out benchmarks/results/heldout_pictures.md]
    python benchmarks/heldout_pictures.py --shift [--split tiles]  # the diagnostic below

``--split`` is ``make_texture_defects``'s: ``halves`` (the default) takes the training
crops from the top half of each photograph and the test crops from the bottom half;
``tiles`` takes them from alternate squares of a checkerboard of 128 px tiles, so that
both cover the whole photograph.

``--shift`` (formerly ``--halves``) prints, per photograph (and for the three design
textures), how well the defect-free training crops can be told from the defect-free test
crops of that split: the 5-fold cross-validated ROC AUC of a logistic regression on each
crop's 16-bin grey-level histogram, mean and standard deviation (300 crops each). 0.5:
they look alike; near 1: the normal test crops are unlike the training crops, which the
one-class protocol assumes they are not. Seconds.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from demo_textures import (  # noqa: E402
    DATA_PARAMS,
    TEXTURE_PARAMS,
    TEXTURES,
    ci_table,
    run_texture,
    table,
)

#: scikit-image photographs (no download) never used for a design choice: at least
#: 128 px high, so that 64 px crops fit in each half.
PICTURES = ("moon", "camera", "astronaut", "immunohistochemistry", "hubble_deep_field", "cell")


#: scikit-learn's two sample photographs (``load_sample_image``, shipped with it), also
#: never used for a design choice: scenes (a temple, a flower), 427 x 640.
SKLEARN_PICTURES = ("china", "flower")


def load_picture(name):
    """``skimage.data.<name>()``, or scikit-learn's sample image ``<name>.jpg`` for the
    names in :data:`SKLEARN_PICTURES`, as a 2-D uint8 grey photograph (colour: channel
    mean)."""
    if name in SKLEARN_PICTURES:
        from sklearn.datasets import load_sample_image

        photo = np.asarray(load_sample_image(f"{name}.jpg"))
    else:
        import skimage.data

        photo = np.asarray(getattr(skimage.data, name)())
    if photo.ndim == 3:
        photo = np.rint(photo[..., :3].astype(np.float64).mean(axis=2))
    return photo.astype(np.uint8)


def half_shift_auc(source, n=300, seed=5, split="halves"):
    """Cross-validated ROC AUC telling the training crops of ``source`` (a texture name or
    a photograph) from its test crops under ``split``, by their grey-level statistics (see
    the module docstring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from sklearn_igd.datasets import make_texture_defects

    d = make_texture_defects(
        source, n_train=n, n_test=n, anomaly_ratio=0.0, split=split, random_state=seed
    )
    X = np.concatenate([d.images_train, d.images_test]).astype(np.float64) / 255.0
    y = np.r_[np.zeros(n), np.ones(n)]
    hist = np.stack([np.histogram(x, bins=16, range=(0, 1))[0] / x.size for x in X])
    feats = np.c_[hist, X.mean(axis=(1, 2)), X.std(axis=(1, 2))]
    clf = LogisticRegression(max_iter=2000)
    return cross_val_score(clf, feats, y, cv=5, scoring="roc_auc").mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", default=",".join(PICTURES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=DATA_PARAMS["n_train"])
    parser.add_argument("--n-test", type=int, default=DATA_PARAMS["n_test"])
    parser.add_argument("--split", choices=("halves", "tiles"), default="halves")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--figures", default=None, help="folder for heatmap figures")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "heldout_pictures.md")
    )
    parser.add_argument(
        "--shift",
        "--halves",
        dest="shift",
        action="store_true",
        help="only the diagnostic of how the training and test crops differ",
    )
    args = parser.parse_args(argv)
    names = args.pictures.split(",")
    if args.shift:
        print(f"| photograph | training vs test crops ({args.split}): ROC AUC |\n|---|---|")
        for name in names + list(TEXTURES):
            source = name if name in TEXTURES else load_picture(name)
            print(f"| {name} | {half_shift_auc(source, split=args.split):.3f} |")
        return
    torch.set_num_threads(args.threads)
    data_params = {**DATA_PARAMS, "n_train": args.n_train, "n_test": args.n_test}
    if args.split != "halves":  # keeps the command of the earlier runs' data line
        data_params["split"] = args.split
    t0 = time.perf_counter()
    rows = []
    for name in names:
        photo = load_picture(name)
        row = run_texture(
            name,
            params=TEXTURE_PARAMS,
            seed=args.seed,
            out=args.figures,
            data_params=data_params,
            photo=photo,
        )
        row["shape"] = photo.shape
        rows.append(row)
    data_args = ", ".join(f"{k}={v!r}" for k, v in data_params.items())
    source = " and ".join(
        sorted({"scikit-learn" if n in SKLEARN_PICTURES else "scikit-image" for n in names})
    )
    shapes = ", ".join(f"{r['texture']} {r['shape'][0]}x{r['shape'][1]}" for r in rows)
    text = (
        "# Held-out pictures with painted defects\n\n"
        f"Command: `python benchmarks/heldout_pictures.py {shlex.join(sys.argv[1:])}`  \n"
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}; "
        f"{datetime.date.today().isoformat()}; total {time.perf_counter() - t0:.0f} s.  \n"
        f"Data: `make_texture_defects(photo, {data_args}, random_state={args.seed})` on "
        f"{source} photographs converted to grey ({shapes}); patches come from brick, "
        "grass and gravel. `IGDDetector(random_state="
        f"{args.seed})`, nothing else set; IsolationForest(random_state={args.seed}) and "
        "OneClassSVM() on raw pixels / 255. Columns as in `demo_textures.md`: 'global' "
        "is the global model's score and map alone, 'local' the local part of the score "
        "and the local model's map. None of these photographs was used for a design "
        "choice, and nothing was changed after this run.\n\n"
        f"{table(rows)}\n\nImage AUROC of the combined score minus the peers', with a "
        f"paired bootstrap interval over the test crops (1,000 resamples):\n\n{ci_table(rows)}\n"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
