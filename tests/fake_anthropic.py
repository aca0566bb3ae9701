"""A local HTTP server speaking just enough of the Anthropic Messages API for offline tests.

The real SDK (its HTTP client, retries and parsing) talks to it over loopback.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeAnthropic:
    def __init__(self, statuses=(200,), text="New customers held steady.", model="claude-sonnet-5-5"):
        self.statuses = list(statuses)
        self.text = text
        self.model = model
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                status = fake.statuses[min(len(fake.requests) - 1, len(fake.statuses) - 1)]
                if status == 200:
                    payload = {"id": f"msg_{len(fake.requests)}", "type": "message", "role": "assistant",
                               "model": fake.model, "content": [{"type": "text", "text": fake.text}],
                               "stop_reason": "end_turn", "stop_sequence": None,
                               "usage": {"input_tokens": 1200, "output_tokens": 80}}
                else:
                    payload = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("retry-after-ms", "5")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
