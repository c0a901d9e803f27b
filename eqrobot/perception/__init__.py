"""Perception capabilities: registration (point clouds -> rigid transform), pose (image -> SO(3) density)."""
