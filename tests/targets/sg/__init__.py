"""A package that, like flask, defines nothing itself and re-exports."""
from .app import App, run
