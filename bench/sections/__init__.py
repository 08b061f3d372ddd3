"""The benchmark sections. Each module registers its sections with `@section` (bench/core.py); they run, and
their rows and descriptions appear in the report, in the order of the imports below. A new benchmark is a
function `measure(bench)` that adds its rows, registered in a module imported here."""
from . import startup, stacks, timeline, idle, soak, logs, build  # noqa: F401 isort:skip - registration, in report order
