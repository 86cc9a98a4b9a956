"""The search for a fix: the semantic ``cache``, the ``offline`` engine, the ``models``, all over
one ``context``, in batches the ``budget`` sizes."""
