"""The zoo of ps2 (see zootests.py)."""
from zoo_ps2 import A  # noqa: F401 (the assignment of these tests)
from zootests import *
