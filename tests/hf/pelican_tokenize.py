"""`pelican tokenize` from Python tests: the ids pelican's tokenizer gives each text."""
import json
import subprocess


def pelican_tokenize(pelican, tokenizer_json, texts):
    """Returns (ids per text, "") or (None, pelican's stderr) when it fails."""
    stdin = "".join(json.dumps(t) + "\n" for t in texts)
    proc = subprocess.run([pelican, "tokenize", "--tokenizer", tokenizer_json, "--json"],
                          input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    # One line of space-separated ids per input line.
    return [[int(x) for x in line.split()] for line in proc.stdout.splitlines()], ""
