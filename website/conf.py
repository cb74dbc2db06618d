"""Sphinx configuration of the course site (`make site`, built by website/build.py).

Sphinx with sphinx-book-theme and myst-nb: the pages are the executed lectures as they are
stored (never run again), and nothing is fetched from the network while building or reading
the site (MathJax is a local copy, copied into _static/mathjax by build.py).
"""
project = "Backprop by hand"
author = ""
copyright = ""
extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "index"
# the assignments' files (assignments/<a>/) are downloads, not pages
exclude_patterns = ["_build", "**.ipynb_checkpoints", "assignments/*/**"]
suppress_warnings = ["myst.header"]

# the lectures are executed and checked by `make test` (nbval): show them as stored
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = "Backprop by hand"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    "show_navbar_depth": 1,
}

# MathJax 2 from the jupyter-server-mathjax package (STIX-Web fonts only: no other font is
# tried, so the browser reports no missing file)
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": True, "processEnvironments": True,
                "processClass": "math|output_area", "ignoreClass": "tex2jax_ignore"},
    "messageStyle": "none",
    "fast-preview": {"disabled": True},
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                 "imageFont": None, "linebreaks": {"automatic": False},
                 "styles": {"@font-face": {"font-family": "MathJax_Blank",
                                           "src": "local('MathJax_Blank')"}}},
}

# a light page (no "invalid theme mode" in the console), and an icon of the course's own
# (no request for a missing /favicon.ico)
html_context = {"default_mode": "light"}
html_favicon = "_static/favicon.svg"
