"""`python -m grader ...`: the instructor's command line (see grader/pipeline.py)."""
import sys

from grader.pipeline import main

sys.exit(main())
