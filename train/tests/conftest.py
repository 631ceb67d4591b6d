"""pytest configuration for train/tests: the markers CI selects on (.ci/run).

    data  needs the raw clips in ../shared/data or the prepared .cache/data/manifest.json;
          the test skips with the reason (pytest -rs lists it) when they are missing, and
          runs when they are there.
    slow  takes minutes on 2 cores; .ci/run deselects these with -m "not slow".
"""


def pytest_configure(config):
    config.addinivalue_line("markers", "data: needs ../shared/data or .cache/data/manifest.json (skipped with the reason "
                                       "when missing)")
    config.addinivalue_line("markers", "slow: minutes on 2 cores; deselected in CI with -m \"not slow\"")
