"""nbgrader configuration of everyone's single-user server on the hub (hub/jupyterhub_config.py
puts this folder on JUPYTER_CONFIG_PATH).

It is the course's own nbgrader_config.py (read-only, from the course repository) with the
hub's shared exchange ($BP_EXCHANGE, which the course config reads) and, for the
instructor, the course folder ($BP_COURSE) that Formgrader manages.
"""
import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nbgrader_config.py"))  # noqa: F821

c.Exchange.root = os.environ["BP_EXCHANGE"]
# fetched assignments and feedback go to ~/backprop-by-hand/<assignment>/ of the server
c.Exchange.assignment_dir = os.environ["HOME"]
if os.environ.get("BP_COURSE"):
    c.CourseDirectory.root = os.environ["BP_COURSE"]
