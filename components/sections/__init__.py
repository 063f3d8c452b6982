"""Sections: one titled part of a page each, reading its own widgets and drawing with components.figures."""
