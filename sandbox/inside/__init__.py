"""UNTRUSTED TERRITORY. These modules run inside the sandbox, beside the code under judgement,
copied into its runtime folder and started by file name (``python -I -S /pve/harness.py``).

They import only the standard library, pytest, each other and ``sandbox/capture.py`` (copied
beside them) by bare file name, never the host's packages; nothing here may hold a secret or
decide a verdict. The host reads what they print only through the nonce-framed result record
and treats it as evidence, not as truth; it never imports them except in tests."""
