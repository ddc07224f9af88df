# port-aws-sync live events, central account: the equivalent of ../../central.yaml.
# The event patterns are read from ../../patterns, the files the CloudFormation templates
# carry inline (a test checks they agree).

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
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  patterns_dir      = "${path.module}/../../patterns"
  organization_wide = var.organization_id != ""
  in_us_east_1      = data.aws_region.current.name == "us-east-1"
  rules = merge(
    {
      secrets-manager = "Secrets Manager changes (CloudTrail) to port-aws-sync"
      acm             = "ACM certificate events and changes (CloudTrail) to port-aws-sync"
    },
    # Organizations sends its events to us-east-1 of the management account only.
    local.in_us_east_1 ? { organizations = "Organizations account changes (CloudTrail) to port-aws-sync" } : {}
  )
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "events" {
  name = var.queue_name
  # The daemon long-polls; 20 s is SQS's maximum.
  receive_wait_time_seconds  = 20
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = 345600
  # SSE-SQS: EventBridge can send to it without a KMS key policy.
  sqs_managed_sse_enabled = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeRulesOfThisAccount"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.events.arn
      Condition = {
        ArnLike = {
          "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/*"
        }
      }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "kind" {
  for_each       = local.rules
  name           = "${var.queue_name}-${each.key}"
  description    = each.value
  event_bus_name = "default"
  event_pattern  = file("${local.patterns_dir}/${each.key}.json")
}

resource "aws_cloudwatch_event_target" "kind" {
  for_each       = local.rules
  rule           = aws_cloudwatch_event_rule.kind[each.key].name
  event_bus_name = "default"
  target_id      = "port-aws-sync"
  arn            = aws_sqs_queue.events.arn
}

resource "aws_cloudwatch_event_bus" "organization" {
  count = local.organization_wide ? 1 : 0
  name  = "${var.queue_name}-organization"
}

resource "aws_cloudwatch_event_bus_policy" "organization" {
  count          = local.organization_wide ? 1 : 0
  event_bus_name = aws_cloudwatch_event_bus.organization[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OrganizationMembersPutEvents"
      Effect    = "Allow"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = aws_cloudwatch_event_bus.organization[0].arn
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

# Member rules already filtered what they forward: everything from these sources goes on.
resource "aws_cloudwatch_event_rule" "organization_bus" {
  count          = local.organization_wide ? 1 : 0
  name           = "${var.queue_name}-forwarded"
  description    = "Events forwarded by member accounts to port-aws-sync"
  event_bus_name = aws_cloudwatch_event_bus.organization[0].name
  event_pattern  = jsonencode({ source = ["aws.secretsmanager", "aws.acm", "aws.organizations"] })
}

resource "aws_cloudwatch_event_target" "organization_bus" {
  count          = local.organization_wide ? 1 : 0
  rule           = aws_cloudwatch_event_rule.organization_bus[0].name
  event_bus_name = aws_cloudwatch_event_bus.organization[0].name
  target_id      = "port-aws-sync"
  arn            = aws_sqs_queue.events.arn
}

resource "aws_cloudformation_stack_set" "member_rules" {
  count            = local.organization_wide && length(var.member_organizational_unit_ids) > 0 ? 1 : 0
  name             = "${var.queue_name}-member-rules"
  description      = "port-aws-sync live events, member-account rules forwarding to the central bus"
  permission_model = "SERVICE_MANAGED"
  capabilities     = ["CAPABILITY_NAMED_IAM"]
  template_body    = file("${path.module}/../../member-account.yaml")
  parameters = {
    CentralEventBusArn = aws_cloudwatch_event_bus.organization[0].arn
  }
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }
  operation_preferences {
    failure_tolerance_count = 0
    max_concurrent_count    = 10
    region_concurrency_type = "PARALLEL"
  }
  lifecycle {
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "member_rules" {
  for_each       = length(aws_cloudformation_stack_set.member_rules) > 0 ? toset(var.member_regions) : toset([])
  stack_set_name = aws_cloudformation_stack_set.member_rules[0].name
  region         = each.value
  deployment_targets {
    organizational_unit_ids = var.member_organizational_unit_ids
  }
}

# What the daemon needs beyond deploy/iam-policy.json to consume the queue.
resource "aws_iam_policy" "consumer" {
  name_prefix = "${var.queue_name}-consumer-"
  description = "port-aws-sync live events consumer"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ConsumeLiveEvents"
        Effect = "Allow"
        Action = [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:GetQueueAttributes",
        ]
        Resource = aws_sqs_queue.events.arn
      },
      {
        # An event is never trusted for state: the one resource is read again. The read
        # roles of member accounts need these too (see iam-policy-live-events.json).
        Sid    = "ReReadOneResource"
        Effect = "Allow"
        Action = [
          "secretsmanager:DescribeSecret",
          "acm:DescribeCertificate",
          "organizations:DescribeAccount",
        ]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "consumer" {
  count      = var.daemon_role_name != "" ? 1 : 0
  role       = var.daemon_role_name
  policy_arn = aws_iam_policy.consumer.arn
}
