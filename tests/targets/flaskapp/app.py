import os

from flask import Flask, jsonify

from flaskapp import db, views

app = Flask(__name__)


@app.route("/item/<int:n>")
def item(n):
    before = db.QUERIES
    result = views.get_item(n, db.LazyRows("items"))
    result["queries"] = db.QUERIES - before
    return jsonify(result=result, pid=os.getpid())
