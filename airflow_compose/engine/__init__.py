"""The Docker layer, one module per Docker object; python-on-whales is imported only when a call is made.

- `client`: the python-on-whales client and its runner; `errors`: the one reader of Docker's errors
- `probe`: the engine and the CLI; `compose`: one compose project; `containers`: containers of any project
- `volumes`, `images`, `swarm`: those objects; `process`: docker commands as attached child processes

The names below are the layer's interface to the commands."""
from __future__ import annotations

from .compose import (
    ContainerState, Stack, compose_run_from_file, compose_run_to_file, exec_command, exec_from_file, exec_to_file,
    oneoff_command, oneoff_leaves_nothing, validate_compose_files
)
from .containers import StackClaim, compose_containers, containers_publishing, stack_claim
from .errors import classify
from .images import (
    BuildOutcome, BuiltImage, PullProgress, base_image, build_image, image_exists, image_ids_in_use, image_inventory,
    inspect_images, missing_images, pull_images, remove_image_tags, repository_images, repository_tags
)
from .probe import (
    START_INTERVAL_API, EngineDetails, Probe, api_tuple, compose_version, docker_endpoint, standalone_compose
)
from .process import run_child, stream_lines
from .swarm import SWARM_STACK_LABEL, SwarmInfo, SwarmService, SwarmStack, SwarmTask, swarm_info
from .volumes import PostgresData

__all__ = [
    "classify", "EngineDetails", "Probe", "START_INTERVAL_API", "api_tuple", "compose_version", "docker_endpoint",
    "standalone_compose", "ContainerState", "Stack", "compose_run_from_file",
    "compose_run_to_file", "exec_command", "exec_from_file", "exec_to_file", "oneoff_command",
    "oneoff_leaves_nothing", "validate_compose_files", "PostgresData", "StackClaim", "compose_containers",
    "containers_publishing", "stack_claim", "BuildOutcome", "BuiltImage", "PullProgress", "base_image",
    "build_image", "image_exists", "image_ids_in_use", "image_inventory", "inspect_images", "missing_images",
    "pull_images", "remove_image_tags", "repository_images", "repository_tags", "SWARM_STACK_LABEL", "SwarmInfo",
    "SwarmService", "SwarmStack", "SwarmTask", "swarm_info", "run_child", "stream_lines"]
