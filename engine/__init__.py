"""BindScope's engine: files in, vectors, search, maps and models out; no interface code."""

__version__ = "0.1.0"  # written only here: pyproject.toml, the CLI, the app and the installers read it
