"""The offline engine: candidate fixes with no model and no key. Where to edit (``localize``), what
to try there (``templates`` per exception type, ``mutate``'s operators and their families), in
which order (``priors``, ``rank``)."""
