"""Pulumi components: thin layers that turn the core's model and output into resources."""
