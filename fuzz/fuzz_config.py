"""atheris target: ceremony.toml (see fuzz/atheris_main.py)."""

from fuzz.atheris_main import fuzz

if __name__ == "__main__":
    fuzz("ceremony.toml")
