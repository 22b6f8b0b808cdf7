#!/usr/bin/env python3
"""A static file server on loopback for storage tests: GET and HEAD with Range, optional TLS, and an
optional fault that drops every response after N body bytes, to prove that downloads resume. Paths
that contain "forbidden" answer 403.

Prints "port N" once listening; exits when its stdin closes, so it never outlives the test."""
import argparse
import http.server
import os
import socketserver
import ssl
import sys
import threading


def make_handler(root, drop_after):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def resolve(self):
            path = os.path.normpath(os.path.join(root, self.path.split("?")[0].lstrip("/")))
            if not path.startswith(os.path.abspath(root) + os.sep) or not os.path.isfile(path):
                return None
            return path

        def send_head(self):
            if "forbidden" in self.path:
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None, 0, 0
            path = self.resolve()
            if path is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None, 0, 0
            size = os.path.getsize(path)
            start, end = 0, size - 1
            header = self.headers.get("Range")
            if header and header.startswith("bytes="):
                first, _, last = header[6:].partition("-")
                start = int(first) if first else 0
                end = int(last) if last else size - 1
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None, 0, 0
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            return path, start, end

        def do_HEAD(self):
            self.send_head()

        def do_GET(self):
            path, start, end = self.send_head()
            if path is None:
                return
            remaining = end - start + 1
            sent = 0
            with open(path, "rb") as f:
                f.seek(start)
                while remaining > 0:
                    chunk = f.read(min(65536, remaining))
                    if not chunk:
                        break
                    if drop_after and sent + len(chunk) > drop_after:
                        self.wfile.write(chunk[: drop_after - sent])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    remaining -= len(chunk)

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--drop-after", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), make_handler(os.path.abspath(args.root), args.drop_after))
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"port {server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the test closes our stdin or dies


if __name__ == "__main__":
    main()
