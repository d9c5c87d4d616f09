"""The ``sklearn-igd`` command: fit, score, draw heatmaps and evaluate from image folders.

::

    sklearn-igd fit FOLDER -o MODEL [--set PARAM=VALUE ...] [--size H [W]] [--left-out TXT]
    sklearn-igd score FOLDER -m MODEL -o SCORES.csv [--batch-size 64]
    sklearn-igd heatmap FOLDER -m MODEL -o OUTDIR [--npy] [--vmin V] [--vmax V]
    sklearn-igd evaluate ROOT --category NAME -m MODEL [--json OUT]

A folder is read with the rules of :func:`sklearn_igd.datasets.load_image_folder` (the
image files directly in it, in sorted order): the files are listed first
(:func:`~sklearn_igd.datasets.list_image_files`), then decoded and scored one batch at a
time (:func:`~sklearn_igd.datasets.load_images`), so ``score`` and ``heatmap`` handle
folders larger than memory. Models are :class:`~sklearn_igd.IGDDetector` objects saved
with joblib (load them in Python with ``joblib.load``; like any pickle, only load model
files you trust).

Errors (a missing or empty folder, an unreadable image, a file that is not a fitted
model, images of the wrong size, a bad ``--set``) end the command with exit status 1 and
one line on stderr (``--traceback`` shows the Python traceback instead). Progress bars
(tqdm, on stderr) appear when stderr is a terminal, unless ``--quiet``.

Also runs as ``python -m sklearn_igd.cli``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import sys

import numpy as np

PROG = "sklearn-igd"

#: Images decoded per step while reading the training folder of ``fit``.
FIT_READ_CHUNK = 64


class CommandError(Exception):
    """An error reported to the user as one line, without a traceback."""


def _one_line(exc):
    message = " ".join(str(exc).split())
    if isinstance(exc, (CommandError, ValueError, OSError, TypeError)):
        return message or type(exc).__name__
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# --------------------------------------------------------------------------- helpers
def _progress(args, iterable=None, **kwargs):
    """A tqdm bar on stderr, shown only on a terminal and without ``--quiet``."""
    from tqdm.auto import tqdm

    disable = True if args.quiet else None  # None: tqdm hides it when stderr is no tty
    return tqdm(iterable, disable=disable, file=sys.stderr, dynamic_ncols=True, **kwargs)


def _bars_shown(args):
    return not args.quiet and sys.stderr.isatty()


def _parse_size(values):
    if values is None:
        return None
    if len(values) not in (1, 2) or min(values) < 1:
        raise CommandError(f"--size takes one or two positive ints (H [W]); received {values}.")
    return (values[0], values[-1])


def _list_folder(folder):
    from .datasets import list_image_files

    paths = list_image_files(folder)
    if not paths:
        raise CommandError(
            f"no image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff) in the folder {folder!r}."
        )
    return paths


def _read(paths, size, color):
    """Decode ``paths`` (one batch) with :func:`sklearn_igd.datasets.load_images`."""
    from .datasets import load_images

    try:
        return load_images(paths, size=size, color=color)
    except ValueError as exc:
        if size is None and "same size" in str(exc):
            raise CommandError(f"{_one_line(exc)} On the command line: --size H W.") from exc
        raise


def _batches(paths, batch_size):
    for start in range(0, len(paths), batch_size):
        yield paths[start : start + batch_size]


def _read_all(args, paths, size):
    """All of ``paths`` in one array, decoded in chunks behind a progress bar.

    Chunks are read with ``color=None`` each; the result is RGB when any image is (grey
    chunks repeated to three channels, as :func:`~sklearn_igd.datasets.load_images` does
    within one call), and all images must have one size.
    """
    out, first = None, None
    with _progress(args, total=len(paths), desc="reading", unit="img") as bar:
        start = 0
        for chunk in _batches(paths, FIT_READ_CHUNK):
            images = _read(chunk, size, None)
            if out is None:
                out = np.empty((len(paths),) + images.shape[1:], dtype=np.uint8)
                first = chunk[0]
            if images.shape[1:3] != out.shape[1:3]:
                h, w = images.shape[1:3]
                raise CommandError(
                    f"The images do not all have the same size (H x W): {out.shape[1]}x"
                    f"{out.shape[2]} (e.g. {os.path.basename(first)!r}) and {h}x{w} (e.g. "
                    f"{os.path.basename(chunk[0])!r}). On the command line: --size H W."
                )
            if images.ndim == 4 and out.ndim == 3:  # first colour chunk: switch to RGB
                grey = out
                out = np.empty(grey.shape + (3,), dtype=np.uint8)
                out[:start] = grey[:start, :, :, None]
            if images.ndim == 3 and out.ndim == 4:
                images = images[:, :, :, None]
            out[start : start + len(chunk)] = images
            start += len(chunk)
            bar.update(len(chunk))
    return out


def _parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _parse_sets(items, estimator):
    valid = sorted(estimator.get_params(deep=False))
    params = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(f"--set expects PARAM=VALUE; received {item!r}.")
        if name not in valid:
            raise CommandError(
                f"--set {name}: unknown parameter of IGDDetector; valid parameters: "
                f"{', '.join(valid)}."
            )
        params[name] = _parse_value(value)
    return params


def _check_writable_file(path):
    """Fail before long work when ``path`` cannot be created."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise CommandError(f"the output {path!r} is a folder; expected a file name.")
    if not os.path.isdir(folder):
        raise CommandError(f"the folder of the output file {path!r} does not exist.")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write to the folder {folder!r}.")


def _load_model(path):
    from ._persistence import load_detector

    try:
        model = load_detector(path)
    except FileNotFoundError as exc:
        raise CommandError(f"model file not found: {path!r}.") from exc
    except Exception as exc:  # a pickle of anything can fail in any way
        raise CommandError(f"{_one_line(exc)} Expected a model saved by '{PROG} fit'.") from exc
    if not getattr(model, "is_image_", False):
        raise CommandError(
            f"{path!r} holds an IGDDetector fitted on 2-D (tabular) data, not on images."
        )
    return model


def _model_color(model):
    return model.input_shape_[0] == 3


def _check_batch_size(model, images, paths, size):
    """Images of another size than the fitted one: say which and how to resize."""
    if model.image_size is not None:
        return  # the detector resizes
    h0, w0 = model.input_shape_[1:]
    h, w = images.shape[1:3]
    if (h, w) != (h0, w0):
        hint = f"--size {h0} {w0}" if size is None else f"--size {h0} {w0} (not --size {h} {w})"
        raise CommandError(
            f"the model was fitted on {h0}x{w0} images; {os.path.basename(paths[0])!r} "
            f"(read as {h}x{w}) does not match. Resize on reading with {hint}."
        )


def _scored_batches(args, model, folder, paths, size):
    """Yield ``(paths, images)`` per batch, behind a progress bar over images."""
    color = _model_color(model)
    with _progress(args, total=len(paths), desc=args.command, unit="img") as bar:
        for batch in _batches(paths, args.batch_size):
            images = _read(batch, size, color)
            _check_batch_size(model, images, batch, size)
            yield batch, images
            bar.update(len(batch))


def _relpath(path, folder):
    return os.path.relpath(path, folder)


# --------------------------------------------------------------------------- commands
def cmd_fit(args):
    import joblib

    from ._detector import IGDDetector

    detector = IGDDetector()
    params = _parse_sets(args.set, detector)
    detector.set_params(**params)
    if hasattr(detector, "_validate_params"):  # scikit-learn's check, before reading
        detector._validate_params()
    size = _parse_size(args.size)
    _check_writable_file(args.output)
    if args.left_out is not None:
        if detector.support_fraction is None:
            raise CommandError(
                "--left-out lists the training images a trimmed fit leaves out; it needs "
                "--set support_fraction=F (a float in (0, 1], e.g. 0.8)."
            )
        if args.left_out != "-":
            _check_writable_file(args.left_out)
    paths = _list_folder(args.folder)
    X = _read_all(args, paths, size)
    verbose = detector.verbose
    if "verbose" not in params and _bars_shown(args):
        detector.set_params(verbose=1)  # the estimator's bar over epochs
    detector.fit(X)
    detector.set_params(verbose=verbose)
    joblib.dump(detector, args.output)
    left_out = [_relpath(p, args.folder) for p, kept in zip(paths, detector.support_) if not kept]
    if args.left_out == "-":
        print("\n".join(left_out))
    elif args.left_out is not None:
        with open(args.left_out, "w") as f:
            f.writelines(path + "\n" for path in left_out)
    if not args.quiet:
        summary = sys.stderr if args.left_out == "-" else sys.stdout  # stdout holds the list
        h, w = detector.input_shape_[1:]
        print(
            f"fitted IGDDetector on {len(paths)} images ({h}x{w}, "
            f"{detector.input_shape_[0]} channel(s)); saved to {args.output}",
            file=summary,
        )
        if detector.support_fraction is not None:
            print(
                f"the global model left out {len(left_out)} of {len(paths)} training images "
                f"(support_fraction={detector.support_fraction:g}; support_ in the model)"
                + (f"; listed in {args.left_out}" if args.left_out not in (None, "-") else ""),
                file=summary,
            )
    return 0


def cmd_score(args):
    model = _load_model(args.model)
    size = _parse_size(args.size)
    to_stdout = args.output == "-"
    if not to_stdout:
        _check_writable_file(args.output)
    paths = _list_folder(args.folder)
    partial = None if to_stdout else args.output + ".partial"
    f = sys.stdout if to_stdout else open(partial, "w", newline="")
    n_flagged = 0
    try:
        writer = csv.writer(f)
        writer.writerow(["path", "anomaly_score", "decision_function", "predict"])
        for batch, images in _scored_batches(args, model, args.folder, paths, size):
            scores = model.anomaly_score(images)
            decision = -scores - model.offset_  # = score_samples - offset_
            predict = np.where(decision < 0, -1, 1)
            n_flagged += int((predict == -1).sum())
            for path, s, d, p in zip(batch, scores, decision, predict):
                writer.writerow([_relpath(path, args.folder), repr(float(s)), repr(float(d)), p])
            f.flush()
    except BaseException:
        if not to_stdout:
            f.close()
            os.remove(partial)
        raise
    if not to_stdout:
        f.close()
        os.replace(partial, args.output)
        if not args.quiet:
            print(
                f"scored {len(paths)} images ({n_flagged} predicted anomalous); "
                f"wrote {args.output}"
            )
    return 0


def _output_paths(paths, folder, outdir):
    """``{input path: output PNG path}``; refuses collisions and overwriting inputs."""
    out, seen = {}, {}
    inputs = {os.path.normcase(os.path.abspath(p)) for p in paths}
    for path in paths:
        rel = os.path.splitext(_relpath(path, folder))[0] + ".png"
        target = os.path.join(outdir, rel)
        key = os.path.normcase(os.path.abspath(target))
        if key in seen:
            raise CommandError(
                f"{os.path.basename(seen[key])!r} and {os.path.basename(path)!r} would both "
                f"be written to {target!r}; rename one of them."
            )
        if key in inputs:
            raise CommandError(
                f"writing {target!r} would overwrite an input image; choose another -o folder."
            )
        seen[key] = path
        out[path] = target
    return out


def cmd_heatmap(args):
    from PIL import Image

    from .plotting import _resize_heatmaps, overlay_heatmap

    model = _load_model(args.model)
    size = _parse_size(args.size)
    if not 0.0 <= args.alpha <= 1.0:
        raise CommandError(f"--alpha must lie in [0, 1]; received {args.alpha}.")
    if args.vmin is not None and args.vmax is not None and args.vmin > args.vmax:
        raise CommandError(f"--vmin ({args.vmin}) must not exceed --vmax ({args.vmax}).")
    paths = _list_folder(args.folder)
    targets = _output_paths(paths, args.folder, args.output)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise CommandError(f"the output {args.output!r} exists and is not a folder.")
    for folder in sorted({os.path.dirname(t) for t in targets.values()}):
        os.makedirs(folder, exist_ok=True)
    for batch, images in _scored_batches(args, model, args.folder, paths, size):
        heat = model.predict_heatmap(images)
        shown = _resize_heatmaps(heat, images.shape[1:3])
        for i, path in enumerate(batch):
            target = targets[path]
            rgb = overlay_heatmap(
                images[i], shown[i], alpha=args.alpha, vmin=args.vmin, vmax=args.vmax
            )
            Image.fromarray(rgb).save(target)
            if args.npy:
                np.save(os.path.splitext(target)[0] + ".npy", heat[i])
    if not args.quiet:
        kinds = "PNG and .npy" if args.npy else "PNG"
        print(f"wrote {len(paths)} heatmaps ({kinds}) to {args.output}")
    return 0


def cmd_evaluate(args):
    from sklearn.metrics import roc_auc_score

    from .datasets import load_mvtec_ad
    from .metrics import aupro, pixel_roc_auc
    from .plotting import _resize_heatmaps

    model = _load_model(args.model)
    size = _parse_size(args.size)
    if args.json is not None and args.json != "-":
        _check_writable_file(args.json)
    # load_mvtec_ad holds the layout rules (test/<defect>, ground_truth/<defect>/*_mask.png)
    data = load_mvtec_ad(args.root, args.category, size=size, color=_model_color(model))
    images, masks, y = data.images_test, data.masks_test, data.y_test
    _check_batch_size(model, images, data.filenames_test, size)
    if not (y == -1).any() or not (y == 1).any():
        raise CommandError(
            f"the test set of {args.category!r} needs both defect-free (test/good) and "
            "defective images to compute the metrics."
        )
    scores = np.empty(len(images))
    heat = np.empty(masks.shape)
    with _progress(args, total=len(images), desc="evaluate", unit="img") as bar:
        for start in range(0, len(images), args.batch_size):
            part = images[start : start + args.batch_size]
            scores[start : start + len(part)] = model.anomaly_score(part)
            heat[start : start + len(part)] = _resize_heatmaps(
                model.predict_heatmap(part), masks.shape[1:]
            )
            bar.update(len(part))
    results = {
        "category": args.category,
        "model": args.model,
        "n_test": int(len(y)),
        "n_defective": int((y == -1).sum()),
        "image_auroc": float(roc_auc_score(y == -1, scores)),
        "pixel_auroc_pooled": float(pixel_roc_auc(masks, heat, average="pooled")),
        "pixel_auroc_per_image": float(pixel_roc_auc(masks, heat, average="per_image")),
        "aupro": float(aupro(masks, heat, fpr_limit=args.fpr_limit)),
        "aupro_fpr_limit": args.fpr_limit,
    }
    rows = [
        ("image AUROC", results["image_auroc"]),
        ("pixel AUROC (pooled)", results["pixel_auroc_pooled"]),
        ("pixel AUROC (per image)", results["pixel_auroc_per_image"]),
        (f"AUPRO (FPR <= {args.fpr_limit:g})", results["aupro"]),
    ]
    if args.json != "-":
        width = max(len(name) for name, _ in rows)
        print(
            f"{args.category}: {results['n_test']} test images, {results['n_defective']} defective"
        )
        for name, value in rows:
            print(f"  {name:<{width}}  {value:.4f}")
    if args.json is not None:
        text = json.dumps(results, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return 0


# --------------------------------------------------------------------------- parser
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, received {text!r}")
    return value


def build_parser():
    """The argparse parser of the ``sklearn-igd`` command."""
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars, no summary")
    common.add_argument(
        "--traceback", action="store_true", help="show the Python traceback of an error"
    )
    size = argparse.ArgumentParser(add_help=False)
    size.add_argument(
        "--size",
        nargs="+",
        type=_positive_int,
        metavar="N",
        help="resize every image on reading to H x W (--size H W) or N x N (--size N)",
    )
    batch = argparse.ArgumentParser(add_help=False)
    batch.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help="images decoded and scored at a time (default: 64)",
    )
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument(
        "-m", "--model", required=True, help="model file written by 'sklearn-igd fit'"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Interpolated Gaussian Descriptor (IGD) anomaly detection on image folders.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "fit",
        parents=[common, size],
        help="fit an IGDDetector on a folder of normal images",
        description="Fit an IGDDetector on every image of FOLDER (all normal) and save it "
        "with joblib.",
    )
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write")
    p.add_argument(
        "--set",
        action="append",
        metavar="PARAM=VALUE",
        help="an IGDDetector parameter (repeatable); VALUE is read as a Python literal, "
        "else as a string: --set max_epochs=20 --set pretrain=None --set "
        "backbone=resnet18-lite",
    )
    p.add_argument(
        "--left-out",
        metavar="TXT",
        help="with --set support_fraction=F: write the paths (relative to FOLDER) of the "
        "training images the global model left out, one per line, to TXT "
        "('-': stdout, the summary then goes to stderr)",
    )
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "score",
        parents=[common, size, batch, model],
        help="write a CSV of anomaly scores",
        description="Score every image of FOLDER: one CSV row per image with its path "
        "(relative to FOLDER), anomaly_score (higher = more anomalous), decision_function "
        "(< 0 = anomaly) and predict (+1 normal, -1 anomaly).",
    )
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument("-o", "--output", required=True, metavar="CSV", help="CSV file ('-': stdout)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "heatmap",
        parents=[common, size, batch, model],
        help="write heatmap overlays as PNG files",
        description="Write, for every image of FOLDER, a PNG of the image with its anomaly "
        "heatmap overlaid (jet colours: red = anomalous) under OUTDIR, at the image's "
        "relative path with the extension .png.",
    )
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument(
        "--npy", action="store_true", help="also write the raw map (float64 H x W) as .npy"
    )
    p.add_argument(
        "--vmin",
        type=float,
        help="heat value at the blue end of the colours (default: each map's minimum)",
    )
    p.add_argument(
        "--vmax",
        type=float,
        help="heat value at the red end (default: each map's maximum); fix --vmin and --vmax "
        "to compare colours between images",
    )
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the colours (default: 0.5)")
    p.set_defaults(func=cmd_heatmap)

    p = sub.add_parser(
        "evaluate",
        parents=[common, size, batch, model],
        help="image and pixel metrics on an MVTec AD category",
        description="Evaluate on the test set of an MVTec AD category (ROOT/CATEGORY/test, "
        "ground_truth): image AUROC, pixel AUROC pooled and per defective image, AUPRO.",
    )
    p.add_argument("root", metavar="ROOT")
    p.add_argument("--category", required=True, metavar="NAME")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON ('-': stdout)")
    p.add_argument(
        "--fpr-limit", type=float, default=0.3, help="FPR limit of AUPRO (default: 0.3)"
    )
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None):
    """Run the ``sklearn-igd`` command; returns the exit status (0 on success)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.traceback:
            raise
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
