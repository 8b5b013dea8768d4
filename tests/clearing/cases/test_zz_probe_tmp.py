from flask import Flask
from clearing.cases.forms import FloodSortingForm
def test_probe(app: Flask) -> None:
    with app.test_request_context("/x", method="POST", data={"cases": ["a"], "action": "drop"}, headers={"Accept-Language": "de"}):
        app.config["WTF_CSRF_ENABLED"] = False
        f = FloodSortingForm()
        f.validate()
        print("ERR", f.errors)
    with app.test_request_context("/x", method="POST", data={"cases": ["a"]}, headers={"Accept-Language": "de"}):
        f = FloodSortingForm()
        f.validate()
        print("ERR", f.errors)
