"""Seeds a moto server with a small organization, certificates and secrets for the demo."""
import sys

import boto3

endpoint = sys.argv[1]
regions = sys.argv[2].split(",")
creds = dict(endpoint_url=endpoint, aws_access_key_id="demo", aws_secret_access_key="demo")

org = boto3.client("organizations", region_name=regions[0], **creds)
org.create_organization(FeatureSet="ALL")
for name in ("payments-prod", "payments-dev"):
    org.create_account(Email=f"{name}@example.com", AccountName=name)

for region in regions:
    acm = boto3.client("acm", region_name=region, **creds)
    for service in ("api", "www"):
        acm.request_certificate(
            DomainName=f"{service}.{region}.example.com",
            ValidationMethod="DNS",
            Tags=[{"Key": "team", "Value": "platform"}],
        )
    sm = boto3.client("secretsmanager", region_name=region, **creds)
    for app in ("orders", "billing"):
        sm.create_secret(
            Name=f"{app}/{region}/database",
            Description=f"{app} database credentials",
            SecretString="demo-only-value",
            Tags=[{"Key": "team", "Value": app}, {"Key": "env", "Value": "prod"}],
        )
print(f"seeded moto at {endpoint}: 3 accounts, {2 * len(regions)} certificates, "
      f"{2 * len(regions)} secrets in {', '.join(regions)}", file=sys.stderr)
