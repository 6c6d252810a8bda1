#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
requests on fd 3, answers on fd 4, NUL-terminated JSON), with nothing but the standard
library. Used by BrowserTests.swift and `make screenshots`.

    cdp.py URL --probe JS --seconds S --every E [--screenshot PNG] [--width W --height H]

Loads URL, waits for its load event, evaluates the JS expression PROBE every E seconds for S seconds (its value must
be JSON-serializable), optionally writes a full-page PNG at the end, and prints one JSON
object: {"samples": [...], "errors": [...]} where errors are console errors, uncaught
exceptions and failed loads.
"""
import argparse, base64, json, os, select, shutil, subprocess, sys, tempfile, time

def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no chromium on PATH")

class Browser:
    def __init__(self, width, height):
        self.profile = tempfile.mkdtemp(prefix="terrain-cdp-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # The child reads commands on fd 3 and writes answers on fd 4.
        def setup():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)
        self.proc = subprocess.Popen(
            [chromium(), "--headless=new", "--no-sandbox", "--remote-debugging-pipe", "--no-first-run",
             "--disable-background-networking", "--disable-extensions", "--use-angle=swiftshader",
             "--enable-unsafe-swiftshader", "--hide-scrollbars", "--user-data-dir=" + self.profile,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            preexec_fn=setup, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.out = os.fdopen(to_browser_w, "wb", buffering=0)
        self.inp = os.fdopen(from_browser_r, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self.out.write(json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def read(self):
        while b"\0" not in self.buffer:
            chunk = self.inp.read(1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_event(self, method, timeout):
        """Reads events until `method` arrives (True) or `timeout` seconds pass (False)."""
        if any(e.get("method") == method for e in self.events):
            return True
        end = time.time() + timeout
        while time.time() < end:
            if b"\0" not in self.buffer:
                ready, _, _ = select.select([self.inp], [], [], max(0, end - time.time()))
                if not ready:
                    return False
            event = self.read()
            self.events.append(event)
            if event.get("method") == method:
                return True
        return False

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

def errors_in(events):
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append("exception: %s %s" % (d.get("text", ""), d.get("exception", {}).get("description", "")))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append("log: %s %s" % (entry.get("text", ""), entry.get("url", "")))
    return out

def main():
    a = argparse.ArgumentParser()
    a.add_argument("url")
    a.add_argument("--probe", default="document.title")
    a.add_argument("--seconds", type=float, default=3)
    a.add_argument("--every", type=float, default=0.5)
    a.add_argument("--screenshot")
    a.add_argument("--width", type=int, default=1280)
    a.add_argument("--height", type=int, default=1600)
    args = a.parse_args()
    b = Browser(args.width, args.height)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        b.session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Runtime.enable", "Page.enable", "Log.enable"):
            b.send(domain)
        b.send("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": False})
        b.send("Page.navigate", {"url": args.url})
        # Sampling starts once the page has loaded (a guard of 120 s against a hang).
        loaded = b.wait_event("Page.loadEventFired", 120)
        samples = []
        end = time.time() + args.seconds
        while True:
            time.sleep(args.every)
            r = b.send("Runtime.evaluate", {"expression": "JSON.stringify(%s)" % args.probe, "returnByValue": True})
            value = r.get("result", {}).get("value")
            samples.append(json.loads(value) if isinstance(value, str) else None)
            if time.time() >= end:
                break
        if args.screenshot:
            shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        errors = errors_in(b.events) + ([] if loaded else ["the page did not finish loading in 120 s"])
        print(json.dumps({"samples": samples, "errors": errors}))
    finally:
        b.close()

if __name__ == "__main__":
    main()
