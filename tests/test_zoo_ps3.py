"""The zoo of ps3 (see zootests.py)."""
import zoo_ps3
from zootests import *

A = zoo_ps3.A
