"""atheris target: PIN file (see fuzz/atheris_main.py)."""

from fuzz.atheris_main import fuzz

if __name__ == "__main__":
    fuzz("PIN file")
