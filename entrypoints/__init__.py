"""The composition root: the only package that knows every other one.

``bootstrap`` builds the runtime from settings (used by ``pve verify``, ``pve serve``, the
Lambda handlers and the tests); ``cli`` is the ``pve`` command; ``aws_lambda`` the Lambda
handlers. Nothing below imports this package.
"""
