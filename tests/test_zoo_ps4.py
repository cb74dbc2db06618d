"""The zoo of ps4 (see zootests.py)."""
import zoo
from zootests import *

A = zoo.PS4
