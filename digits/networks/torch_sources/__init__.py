"""Python (torch) sources of the standard networks, handed to users as editable network files."""
