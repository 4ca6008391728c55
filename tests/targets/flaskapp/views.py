from flaskapp import db


def get_item(n, rows):
    total = sum(v for _, v in db.query("select v from items where n = %d" % n))
    return {"n": n, "total": total + n, "table": rows.table}
