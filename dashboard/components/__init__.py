"""Widgets used on several pages. Every one shows user data as text (never rendered markdown or HTML)."""
