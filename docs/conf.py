"""Sphinx configuration of the sklearn-igd documentation.

Build with ``make docs`` (or ``sphinx-build -b html docs docs/_build/html``). The gallery
executes ``examples/plot_*.py``; set ``SKLEARN_IGD_EXAMPLES_TINY=1`` for a quick build
with the examples shrunk to a few seconds each.
"""

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sklearn_igd  # noqa: E402

project = "sklearn-igd"
author = "the sklearn-igd developers"
copyright = "the sklearn-igd developers"  # noqa: A001
version = release = sklearn_igd.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**/*.zip"]

# -- autodoc / autosummary / numpydoc -------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- sphinx-gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # execute the plot_*.py examples; demo.py and demo_textures.py are plain scripts of
    # `make demo`, left out of the gallery
    "filename_pattern": r"[\\/]plot_",
    "ignore_pattern": r"(^|[\\/])demo[^\\/]*\.py$|__init__\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_igd",),
    "reference_url": {"sklearn_igd": None},
}

# -- HTML -----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-igd {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_sidebars = {"index": []}

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# the examples use matplotlib without a display
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings(
    "ignore", category=UserWarning, message="(Matplotlib is currently using agg|.*non-interactive)"
)
