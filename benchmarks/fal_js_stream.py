"""The sandbox's fal status stream against the official fal JS client's streaming mode.

Runs `fal.subscribe(…, {mode: "streaming", logs: true})` of @fal-ai/client (Node) against the sandbox, its
queue host rewritten by a request middleware, and prints the updates the client saw and the requests the
sandbox served. Needs node and the package: `npm install --prefix DIR @fal-ai/client`, then
`FAL_JS_CLIENT_DIR=DIR uv run python benchmarks/fal_js_stream.py`. Not a test: nothing is asserted.

Seen with @fal-ai/client 1.10.1: submit, one `GET …/status/stream?logs=1`, the result; updates IN_QUEUE,
IN_QUEUE, IN_PROGRESS ×3, COMPLETED. The client adds each event's `logs` to those before ("to match polling"),
so it expects each event to carry only new log lines; the sandbox sends all of them every time (the counts
printed grow 1, 3, 6, 9 rather than 1, 2, 3, 3): UNVERIFIED which the live stream does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk

SCRIPT = """
const { fal } = require("@fal-ai/client");
const QUEUE = process.env.GENCTL_FAL_QUEUE_URL;
fal.config({
  credentials: process.env.FAL_KEY,
  requestMiddleware: async (req) => ({ ...req, url: req.url.replace("https://queue.fal.run", QUEUE) }),
});
(async () => {
  const updates = [];
  const result = await fal.subscribe("fal-ai/flux/schnell", {
    input: { prompt: "a fox [sandbox:queue=2] [sandbox:progress=3]" },
    mode: "streaming",
    logs: true,
    onQueueUpdate: (u) => updates.push(u.status + (u.logs ? ` (${u.logs.length} log lines)` : "")),
  });
  console.log("updates: " + updates.join(", "));
  console.log("images: " + (result.data.images || []).length);
})().catch((e) => { console.log("ERROR " + e.message); process.exit(1); });
"""


def main() -> None:
    where = os.environ.get("FAL_JS_CLIENT_DIR")
    if (
        shutil.which("node") is None
        or not where
        or not (Path(where) / "node_modules/@fal-ai/client").is_dir()
    ):
        print("needs node and FAL_JS_CLIENT_DIR naming a folder with node_modules/@fal-ai/client")
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as box:
        script = Path(tmp) / "check.js"
        script.write_text(SCRIPT)
        env = {
            **os.environ,
            **box.env(),
            "FAL_KEY": sk.FAL_KEY_OK,
            "NODE_PATH": str(Path(where) / "node_modules"),
        }
        done = subprocess.run(
            ["node", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        print(done.stdout.strip(), done.stderr.strip()[-1000:])
        for record in box.requests:
            query = f"?{record.query}" if record.query else ""
            print(f"  {record.method} {record.path}{query} -> {record.status}")


if __name__ == "__main__":
    main()
