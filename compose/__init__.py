"""The YAML building blocks of the generated stack (shipped in the wheel as airflow_compose.compose)."""
