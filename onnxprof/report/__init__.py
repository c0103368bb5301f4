"""Rendering: rich tables for people, JSON and CSV for scripts. Nothing else prints."""
