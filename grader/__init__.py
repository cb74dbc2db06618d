"""The course's grading tools: release, solutions, the sandbox and class grading.

Run `python -m grader --help` for the command line; the Makefile calls it.
"""
