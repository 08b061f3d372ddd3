"""The stack model, pure: image tags, settings and `.env`, the validated spec, and what it renders to
(compose file, Swarm stack file, Helm values)."""
