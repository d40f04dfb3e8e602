"""The Qt desktop app: main window, panes, previews, the map and the engine thread."""
