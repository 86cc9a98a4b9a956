from tests.app_harness import app_key, github, harness  # noqa: F401  (fixtures)
