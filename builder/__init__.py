"""corpus-builder: raw article files (Markdown/HTML under front matter) -> a versioned dataset."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("corpus-builder")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
