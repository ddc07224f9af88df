"""Plays Port's part in a self-service action run, for the demo: renders the body template of
one of our action definitions (actions/*.json), encrypts the inputs it marks aes256-gcm the
way Port does, signs the body and POSTs it to the webhook. Prints the HTTP status and answer.

usage: port_invoke.py WEBHOOK_URL ACTION_FILE RUN_ID CLIENT_SECRET INPUTS_JSON
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # installed with moto


def render(template, context):
    """Whole-string "{{ .a.b }}" templates (the only kind our definitions use)."""
    if isinstance(template, str):
        text = template.strip()
        if text.startswith("{{") and text.endswith("}}"):
            value = context
            for part in text[2:-2].strip().lstrip(".").split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return value
        return template
    if isinstance(template, list):
        return [render(t, context) for t in template]
    if isinstance(template, dict):
        return {k: render(v, context) for k, v in template.items()}
    return template


def main():
    url, action_file, run_id, client_secret, inputs = sys.argv[1:6]
    action = json.load(open(action_file))
    inputs = json.loads(inputs)
    properties = action["trigger"]["userInputs"]["properties"]
    for name, spec in properties.items():
        if spec.get("encryption") == "aes256-gcm" and name in inputs:
            iv = os.urandom(16)
            sealed = AESGCM(client_secret.encode()[:32]).encrypt(iv, inputs[name].encode(), None)
            inputs[name] = base64.b64encode(iv + sealed).decode()
    context = {"run": {"id": run_id}, "action": {"identifier": action["identifier"]},
               "inputs": inputs, "entity": None}
    body = json.dumps(render(action["invocationMethod"]["body"], context)).encode()
    timestamp = str(int(time.time()))
    signature = base64.b64encode(
        hmac.new(client_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).digest()
    ).decode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json",
        "x-port-timestamp": timestamp,
        "x-port-signature": "v1," + signature,
    })
    try:
        with urllib.request.urlopen(request) as response:
            print(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode())
        sys.exit(1)


main()
