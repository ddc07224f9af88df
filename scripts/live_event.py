"""The demo's live event, with boto3 against moto (moto emits no CloudTrail events, so this
puts the one CloudTrail would have sent).

  live_event.py setup ENDPOINT               queue + the shipped Secrets Manager rule; prints the queue URL
  live_event.py change ENDPOINT PORT_URL     creates a tagged secret, puts its CreateSecret event,
                                             waits for the entity in the Port emulator and prints it
"""
import json
import pathlib
import sys
import time

import boto3

REGION = "us-east-1"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def client(service, endpoint):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def setup(endpoint):
    sqs = client("sqs", endpoint)
    url = sqs.create_queue(QueueName="port-aws-sync-live-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = client("events", endpoint)
    pattern = (ROOT / "deploy/live-events/patterns/secrets-manager.json").read_text()
    events.put_rule(Name="port-aws-sync-secrets-manager", EventPattern=pattern)
    events.put_targets(Rule="port-aws-sync-secrets-manager", Targets=[{"Id": "port-aws-sync", "Arn": arn}])
    print(url)


def change(endpoint, port_url):
    import urllib.request

    name = "demo/live-event"
    created = client("secretsmanager", endpoint).create_secret(
        Name=name, SecretString="never sent to Port", Description="created after the resyncs",
        Tags=[{"Key": "team", "Value": "live"}],
    )
    account = created["ARN"].split(":")[4]
    detail = {
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "CreateSecret",
        "awsRegion": REGION,
        "requestParameters": {"name": name},
        "responseElements": {"arn": created["ARN"], "name": name},
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }
    client("events", endpoint).put_events(Entries=[{
        "Source": "aws.secretsmanager",
        "DetailType": "AWS API Call via CloudTrail",
        "Detail": json.dumps(detail),
    }])
    sent = time.monotonic()
    while time.monotonic() - sent < 30:
        with urllib.request.urlopen(f"{port_url}/_emulator/entities/awsSecret") as response:
            entities = json.load(response)["entities"]
        found = [e for e in entities if e["identifier"] == created["ARN"]]
        if found:
            entity = found[0]
            print(f"in Port {time.monotonic() - sent:.1f} s after the event, without a resync:", file=sys.stderr)
            print(json.dumps({k: entity[k] for k in ("identifier", "title", "properties", "relations")}, indent=2))
            return
        time.sleep(0.2)
    sys.exit("the live event did not reach Port within 30 s")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"setup": setup, "change": change}[command](*args)
