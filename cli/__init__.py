"""The `tgpipe` command line: thin wrappers over pipeline/ and bot/."""
