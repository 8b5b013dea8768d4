"""Type stubs for the parts of Flask-WTF 1.x that Komm.A uses (the package ships no py.typed)."""

from flask_wtf.csrf import CSRFProtect as CSRFProtect
from flask_wtf.form import FlaskForm as FlaskForm

__all__ = ["CSRFProtect", "FlaskForm"]
