"""A project on disk: its files, the folder it lives in, its identity on the engine, and the paths and
values checked at the command line."""
