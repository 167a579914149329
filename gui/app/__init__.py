"""The application: the ``synack`` command, the display check, the main window and its menus."""
