# Action container for python kinds, started by the wskx container pool:
#   python3 launcher.py --port N
# It answers POST /init (code text, or a base64 zip with __main__.py, and a
# virtualenv/ folder in the zip that is put on the path) and POST /run on
# 127.0.0.1:N as OpenWhisk's Python runtime does, and writes the
# activation sentinel to stdout and stderr after every activation.
import base64
import glob
import io
import json
import os
import sys
import traceback
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

# The ActionLoop proxy's messages, which OpenWhisk's Python users see.
MSG_NO_CODE = "Missing main/no code to execute."
MSG_REINIT = "Cannot initialize the action more than once."
MSG_BUILD = "The action failed to generate or locate a binary. See logs for details."
MSG_NOT_DICT = "The action did not return a dictionary or array."

state = {"main": None, "status": "new"}


def markers():
    sys.stdout.write(SENTINEL + "\n")
    sys.stdout.flush()
    sys.stderr.write(SENTINEL + "\n")
    sys.stderr.flush()


def use_virtualenv(root):
    venv = os.path.join(root, "virtualenv")
    if not os.path.isdir(venv):
        return
    activate = os.path.join(venv, "bin", "activate_this.py")
    if os.path.exists(activate):
        with open(activate) as f:
            exec(compile(f.read(), activate, "exec"), {"__file__": activate})
        return
    # A venv made by python -m venv has no activate_this.py: its
    # site-packages are what it adds.
    for site in glob.glob(os.path.join(venv, "lib", "python*", "site-packages")):
        sys.path.insert(0, site)


def load(msg):
    name = msg.get("main") or "main"
    root = os.path.abspath("action")
    os.makedirs(root, exist_ok=True)
    if msg.get("binary"):
        zipfile.ZipFile(io.BytesIO(base64.b64decode(msg["code"]))).extractall(root)
        entry = os.path.join(root, "__main__.py")
        if not os.path.exists(entry) and os.path.exists(os.path.join(root, "exec")):
            entry = os.path.join(root, "exec")
        if not os.path.exists(entry):
            raise Exception("Zip file does not include __main__.py")
        use_virtualenv(root)
        with open(entry, encoding="utf-8") as f:
            source = f.read()
    else:
        entry = os.path.join(root, "__main__.py")
        source = msg["code"]
        with open(entry, "w", encoding="utf-8") as f:
            f.write(source)
    sys.path.insert(0, root)
    os.chdir(root)
    # The runtime imports the code as module main__, so a file guarded by
    # if __name__ == "__main__" does not run its guarded part.
    scope = {"__name__": "main__", "__file__": entry}
    exec(compile(source, entry, "exec"), scope)
    fn = scope.get(name)
    if not callable(fn):
        raise Exception("cannot import name '%s' from 'main__'" % name)
    return fn


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass  # the container's output is the action's, not the server's

    def reply(self, code, obj):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            msg = json.loads(self.rfile.read(n).decode("utf-8") or "{}")
        except ValueError as e:
            return self.reply(400, {"error": "The request is not valid JSON: %s" % e})
        if self.path == "/init":
            return self.init((msg or {}).get("value") or {})
        if self.path == "/run":
            return self.run(msg or {})
        self.reply(404, {"error": "Not found."})

    def init(self, msg):
        if state["status"] != "new":
            sys.stderr.write(MSG_REINIT + "\n")
            sys.stderr.flush()
            return self.reply(403, {"error": MSG_REINIT})
        code = msg.get("code")
        if not isinstance(code, str) or code == "":
            markers()
            return self.reply(403, {"error": MSG_NO_CODE})
        for k, v in (msg.get("env") or {}).items():
            os.environ[k] = v if isinstance(v, str) else json.dumps(v)
        try:
            state["main"] = load(msg)
            state["status"] = "ready"
            self.reply(200, {"ok": True})
        except BaseException:
            state["status"] = "failed"
            traceback.print_exc(file=sys.stderr)
            markers()
            self.reply(502, {"error": MSG_BUILD})

    def run(self, msg):
        if state["status"] != "ready":
            markers()
            return self.reply(500, {"error": "Internal system error: container not ready, status: " + state["status"]})
        for k, v in msg.items():
            if k != "value":
                os.environ["__OW_" + k.upper()] = v if isinstance(v, str) else json.dumps(v)
        value = msg.get("value")
        if value is None:
            value = {}
        try:
            result = state["main"](value)
        except Exception as ex:
            traceback.print_exc(file=sys.stderr)
            result = {"error": str(ex)}
        markers()
        if result is None:
            result = {}
        if not isinstance(result, (dict, list)):
            return self.reply(502, {"error": MSG_NOT_DICT})
        try:
            self.reply(200, result)
        except (TypeError, ValueError) as e:
            self.reply(502, {"error": "The action's result is not JSON: %s" % e})


def main():
    port = 8080
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
