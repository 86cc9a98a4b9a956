"""The model brain: providers behind one interface, the retry and fallback chain, the prompt,
the answer's parsing, the error categorizer and the prices. Imported only when a key is set."""
