"""One module per command family: each takes what the command resolved and returns a result; none prints."""
