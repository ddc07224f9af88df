# port-aws-sync live events, member account: the equivalent of ../../member-account.yaml, for
# accounts and regions the StackSet does not reach (such as the management account's
# us-east-1, where Organizations events are sent).

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  patterns_dir = "${path.module}/../../patterns"
  rules = merge(
    {
      secrets-manager = "Secrets Manager changes (CloudTrail) to port-aws-sync's central bus"
      acm             = "ACM certificate events and changes (CloudTrail) to port-aws-sync's central bus"
    },
    # Organizations sends its events to us-east-1 of the management account only.
    data.aws_region.current.name == "us-east-1" ? { organizations = "Organizations account changes (CloudTrail) to port-aws-sync's central bus" } : {}
  )
}

# Cross-account event bus targets need a role EventBridge assumes to put the event.
resource "aws_iam_role" "forward" {
  name_prefix = "port-aws-sync-forward-"
  description = "Lets EventBridge forward port-aws-sync live events to the central bus"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "forward" {
  name = "put-events-on-central-bus"
  role = aws_iam_role.forward.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = var.central_event_bus_arn
    }]
  })
}

resource "aws_cloudwatch_event_rule" "kind" {
  for_each       = local.rules
  name_prefix    = "port-aws-sync-${each.key}-"
  description    = each.value
  event_bus_name = "default"
  event_pattern  = file("${local.patterns_dir}/${each.key}.json")
}

resource "aws_cloudwatch_event_target" "kind" {
  for_each       = local.rules
  rule           = aws_cloudwatch_event_rule.kind[each.key].name
  event_bus_name = "default"
  target_id      = "port-aws-sync-central-bus"
  arn            = var.central_event_bus_arn
  role_arn       = aws_iam_role.forward.arn
}
