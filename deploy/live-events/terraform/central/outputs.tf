output "queue_url" {
  description = "Set LIVE_EVENTS_QUEUE_URL to this."
  value       = aws_sqs_queue.events.id
}

output "dead_letter_queue_url" {
  value = aws_sqs_queue.dead_letter.id
}

output "organization_event_bus_arn" {
  description = "central_event_bus_arn of the member module."
  value       = one(aws_cloudwatch_event_bus.organization[*].arn)
}

output "consumer_policy_arn" {
  value = aws_iam_policy.consumer.arn
}
