#!/usr/bin/env python3
"""Print the commit a copy of this tree is made from, for a GPU call's provenance.

    python3 tools/tree_commit.py        # e.g. a8a9d35...  or  a8a9d35...-dirty

"-dirty" when the package, the tools or the book have uncommitted changes: the
device job runs all three.  ``make gpu-carry`` and ``make gpu-rehearsal`` both
write this line to ``.carry/commit``; the rule is ``results.git_commit``'s, the
one every result's provenance uses (which looks at ``code`` only).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "code"))
from resnet_course.results import git_commit  # noqa: E402

#: What the device job runs: the package, the tools that drive it, the book.
DEVICE_JOB_PATHS = ("code", "tools", "book")

if __name__ == "__main__":
    print(git_commit(DEVICE_JOB_PATHS))
