"""The whole suite: `python -m tests [pytest arguments]`.

Every test runs on SQLite first. Where HANDOFF_TEST_DATABASE_URL and HANDOFF_TEST_REDIS_URL are set, the tests
whose app the backend chooses run again on PostgreSQL + Redis, each client a worker of its own
(HANDOFF_TEST_BACKEND=postgres); the tests of real servers on PostgreSQL + Redis ran in the first pass.
"""
import os
import subprocess
import sys

NO_TESTS = 5  # pytest's exit status when the arguments chose none of the second pass's tests


def main() -> int:
    command = [sys.executable, "-m", "pytest", *sys.argv[1:]]
    first = subprocess.run(command).returncode
    if not (os.environ.get("HANDOFF_TEST_DATABASE_URL") and os.environ.get("HANDOFF_TEST_REDIS_URL")):
        print("The PostgreSQL + Redis pass is skipped: HANDOFF_TEST_DATABASE_URL and HANDOFF_TEST_REDIS_URL are not set.")
        return first
    print("Again on PostgreSQL + Redis, as several workers:", flush=True)
    second = subprocess.run(command, env={**os.environ, "HANDOFF_TEST_BACKEND": "postgres"}).returncode
    return first or (0 if second == NO_TESTS else second)


if __name__ == "__main__":
    sys.exit(main())
