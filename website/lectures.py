"""The lectures in their order, and the problem set that goes with each: the one table that the
site (website/build.py), the tests and the README follow.

A lecture is notebooks/<name>.ipynb. Its name starts with its number, two digits and, where a
topic is taught in several lectures, a letter (03a_, 03b_); its title is "# <number>. <Title>"
with the number written without the leading zero ("# 3a. The chain rule"). Problem set N
(release/psN_...) goes with the lectures numbered N. To add a lecture, add its row here.
"""
import re

LECTURES = (
    # (notebook name, its problem set or None)
    ("00_notation", None),
    ("01_perceptron", "ps1_perceptron"),
    ("02_multi_output_perceptron", "ps2_multi_output_perceptron"),
    ("03a_chain_rule", "ps3_chain_rule"),
    ("03b_computational_graphs", "ps3_chain_rule"),
    ("04a_mlp_backprop", "ps4_mlp_backprop"),
    ("04b_matrix_form", "ps4_mlp_backprop"),
    ("04c_deep_networks", "ps4_mlp_backprop"),
    ("04d_cross_entropy", "ps4_mlp_backprop"),
    ("05_himmelblau", "ps5_himmelblau"),
)
NAME = re.compile(r"(\d\d)([a-z]?)_\w+")


def number(name):
    """The number a lecture's title starts with: "3a" for 03a_chain_rule, "0" for 00_notation."""
    digits, letter = NAME.fullmatch(name).groups()
    return f"{int(digits)}{letter}"


def assignment_of(name):
    """The problem set of lecture `name`, or None."""
    return dict(LECTURES)[name]


def lectures_of(assignment):
    """The names of the lectures that problem set `assignment` goes with, in order."""
    return [name for name, a in LECTURES if a == assignment]
