"""airflow-compose: generate and run a local Apache Airflow stack on Docker Compose."""

__version__ = "0.1.0"
