"""Widgets: the controls a page reads (inputs, layer/head pickers, a clickable grid, presets, links, downloads)."""
