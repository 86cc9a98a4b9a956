"""Reading reports: an error log, a CI log, a bug report's prose and code blocks, a command line,
turned into what PVE can reproduce. Pure text in, models out; nothing here runs code."""
