"""The zoo of ps5 (see zootests.py)."""
import zoo
from zootests import *

A = zoo.PS5
