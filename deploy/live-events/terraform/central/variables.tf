variable "queue_name" {
  type    = string
  default = "port-aws-sync-live-events"
}

variable "visibility_timeout_seconds" {
  description = "How long a received event stays hidden. The daemon extends it while an event waits for its read, and brings back an event it could not handle after 2 s, doubling at each receive up to 15 minutes."
  type        = number
  default     = 60
}

variable "max_receive_count" {
  description = "Deliveries of one message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 10
}

variable "organization_id" {
  description = "The organization (o-...) whose accounts may put events on the central bus; empty: only this account's events."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be empty or an organization id such as o-abcd123456."
  }
}

variable "member_organizational_unit_ids" {
  description = "Organization root (r-...) or OUs whose accounts get the member rules as a StackSet."
  type        = list(string)
  default     = []
}

variable "member_regions" {
  description = "Regions the member rules are deployed to: every region port-aws-sync reads."
  type        = list(string)
  default     = ["us-east-1"]
}

variable "daemon_role_name" {
  description = "IAM role the daemon runs as; when set, the consumer policy is attached to it."
  type        = string
  default     = ""
}
