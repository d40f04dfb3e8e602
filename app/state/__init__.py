"""The session as window-free objects with events (psygnal): what the window renders and tests drive."""
