"""The app's pieces that are not drawing: view state, URL parameters, interface text."""
