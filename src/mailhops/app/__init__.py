"""The Textual app (the only package importing Textual). Entry points in factory.py."""
