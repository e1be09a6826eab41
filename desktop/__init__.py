"""Embed Studio: embed your own images with Cohere's Embed API and see exactly what is sent."""

__version__ = "0.1.0"
