"""Haven: support software for centres that help survivors of image-based abuse."""

__version__ = "0.1.0"
