"""A small Flask app for `nox -s app`: a page, a JSON list, an order taken as JSON, and
a path that fails."""

from flask import Flask, render_template_string, request

app = Flask(__name__)
ITEMS = [{"id": n, "name": f"item <{n}>"} for n in range(20)]
PAGE = "<h1>Items</h1><ul>{% for i in items %}<li>{{ i.name }}</li>{% endfor %}</ul>"


@app.get("/")
def index():
    return render_template_string(PAGE, items=ITEMS)


@app.get("/api/items")
def items():
    return {"items": ITEMS}


@app.post("/api/orders")
def order():
    sent = request.get_json(silent=True)
    if not isinstance(sent, dict) or not isinstance(sent.get("item"), int):
        return {"error": "send JSON like {\"item\": 3}"}, 400
    return {"ordered": ITEMS[sent["item"] % len(ITEMS)]}, 201


@app.get("/broken")
def broken():
    raise RuntimeError("this path fails on purpose")
