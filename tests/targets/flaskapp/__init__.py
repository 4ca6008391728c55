"""A small Flask service run under gunicorn by tests/e2e/test_real_apps.py."""
