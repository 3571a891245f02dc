"""Sphinx configuration of the torch_nri documentation.

Only Sphinx's built-in extensions and the default (alabaster) theme are used,
so ``pip install -e ".[docs]"`` is all the build needs.  There is no internet
access at build time, hence no intersphinx inventories.
"""
import os
import sys

# Import the package from this checkout (it is also installed in editable
# mode by ``make venv``; this keeps ``sphinx-build`` working without that).
sys.path.insert(0, os.path.abspath(".."))

import torch_nri  # noqa: E402

# -- Project information -----------------------------------------------------

project = "torch_nri"
author = "torch_nri contributors"
copyright = "torch_nri contributors"
version = torch_nri.__version__
release = torch_nri.__version__

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []
root_doc = "index"
language = "en"

# -- autodoc -----------------------------------------------------------------

autodoc_member_order = "bysource"
# Only what this package documents: methods without a docstring of their own
# (the layers' ``forward`` and ``reset_parameters``) would otherwise inherit
# the generic docstrings of PyG's MessagePassing or of torch.nn.Module.
autodoc_inherit_docstrings = False
# Show defaults as written in the source (``act=torch.relu``, not the repr of
# the built-in function).
autodoc_preserve_defaults = True
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"

# -- napoleon (Google-style "Args:", "Returns:", "Attributes:", "Shapes:") ----

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_include_init_with_doc = False
# ``Attributes:`` sections (NRIOutput) become ``.. attribute::`` entries that
# can be linked to.  The dataclass fields have no class-level defaults, so
# autodoc's ``:members:`` does not document them a second time.
napoleon_use_ivar = False
# The PyG-style "Shapes:" section holds a bullet list (input / output shapes);
# rendered as a generic section with its own heading, the list is kept as is.
napoleon_custom_sections = ["Shapes"]

# -- HTML output -------------------------------------------------------------

html_theme = "alabaster"
html_title = f"torch_nri {release}"
html_static_path = []
html_theme_options = {
    "description": "Neural relational inference for PyTorch Geometric",
    "fixed_sidebar": True,
}
