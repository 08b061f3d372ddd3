"""A fake `airflow` package for testing afc's init script without Airflow: each CLI step behaves as the
FAKE_* environment variables say, and every call is appended to FAKE_CALLS."""
