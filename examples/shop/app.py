"""The example service: processes orders for --duration seconds (or forever),
or serves them over HTTP with --serve PORT.

    python3 examples/shop/app.py --duration 5
    python3 examples/shop/app.py --serve 8080
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shop import worker  # noqa: E402
from shop.catalog import Catalog, random_order  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        try:
            result = worker.checkout(body.get("order") or random_order(Catalog()), body.get("card", "4000"))
            code = 200
        except Exception as e:  # the service answers, whatever the payment says
            result, code = {"error": str(e)}, 402
        data = json.dumps(result).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=0, help="seconds to run (0: forever)")
    ap.add_argument("--serve", type=int, metavar="PORT", help="serve HTTP on 127.0.0.1:PORT")
    ap.add_argument("--ready", action="store_true",
                    help="print 'ready' on stdout once the service is in its steady state")
    args = ap.parse_args()

    def ready():
        if args.ready:
            print("ready", flush=True)

    if args.serve is not None:
        server = ThreadingHTTPServer(("127.0.0.1", args.serve), Handler)
        ready()
        server.serve_forever()
        return
    stats = worker.run(args.duration if args.duration > 0 else float("inf"), on_ready=ready)
    print("processed: %s" % json.dumps(stats, sort_keys=True))


if __name__ == "__main__":
    main()
