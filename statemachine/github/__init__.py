"""The GitHub App's jobs, one module per trigger, the bedevere way:

- ``comment``: ``/pve verify`` and ``/pve help`` on an issue or a pull request;
- ``workflow_run``: a pull request's failing CI;
- ``buttons``: the check run's "Apply fix" and "Re-run";
- ``installation``: the app installed or removed.

Each has a pure ``plan_*`` (trigger and repository config in, the intended action out) and a
handler that does the I/O. ``dispatch`` routes a queued job by its trigger (``bot.triggers``);
``conversation`` is the comment and check run one trigger owns; ``verification`` runs the
pipeline for a trigger and reports on its check run.
"""
