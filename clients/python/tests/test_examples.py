"""The two example scripts, run as a user would run them: separate processes, configured by LUME_BROKER."""

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_script(name, cluster, *args):
    env = {**os.environ, "LUME_BROKER": cluster.broker_url}
    # Not the repository's folders: the script must find everything it needs by itself.
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, cwd="/", capture_output=True,
                          text=True, timeout=180)


def test_run_flow1_script_prints_save_text_files_file_rep(lume, cluster):
    done = run_script("run_flow1.py", cluster, "From", "Script", "script.txt")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "filename": "script.txt",
        "file_type_string": "lume_services.files.file:File[TextSerializer]",
        "filesystem_identifier": "local",
    }
    assert (cluster.files_root / "script.txt").read_text() == "FromScript"


def test_raw_pika_script_sees_run_completed(lume, cluster):
    source = (EXAMPLES / "raw_pika_run.py").read_text()
    assert "lume_client" not in source.replace("no lume_client", "")  # pika alone
    done = run_script("raw_pika_run.py", cluster)
    assert done.returncode == 0, done.stderr
    completed = json.loads(done.stdout)
    assert completed["flow"] == "flow1"
    assert lume.get_run(completed["runId"]).results["append_text"] == "HelloWorld"
    assert (cluster.files_root / "hello-pika.txt").read_text() == "HelloWorld"
