"""Plain-Python helpers shared by the apps and the Django-free engines (no Django import anywhere here),
so an engine can use them without pulling in an app."""
