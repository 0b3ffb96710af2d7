"""_lib package."""
