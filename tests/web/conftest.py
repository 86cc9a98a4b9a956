from tests.app_harness import app_key, github  # noqa: F401  (fixtures)
