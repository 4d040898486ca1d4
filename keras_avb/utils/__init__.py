"""Utilities shared by the models."""
