"""The execution proof: the in-toto ``attestation`` (the record), its plain-text rendering
(``text``), Ed25519 ``signing``, and ``make``, which seals a finished session's proof and
stores it."""
