# Variable names are the reference installer's, so existing answers and
# tfvars files carry over. Required ones (no default) are prompted for by
# `terraform plan` / `terraform apply`.

variable "aws_region" {
  description = "AWS region of the task definition (e.g. us-west-2)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(-[a-z0-9]+)+-[0-9]+$", var.aws_region))
    error_message = "aws_region must be a region name such as us-west-2."
  }
}

variable "task_definition_name" {
  description = "Family of the task definition to add the sensor to (the reference's task-name). Its latest ACTIVE revision is read, unless task_definition_revision is set."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.task_definition_name))
    error_message = "task_definition_name is a task definition family: up to 255 letters, digits, hyphens and underscores."
  }
}

variable "task_definition_revision" {
  description = "Revision to start from. Null: the latest ACTIVE one. Set it to the revision without the sensor to re-apply this module after the sensor was added (otherwise the latest revision already contains it and the plan stops)."
  type        = number
  default     = null

  validation {
    condition     = var.task_definition_revision == null || try(var.task_definition_revision >= 1 && floor(var.task_definition_revision) == var.task_definition_revision, false)
    error_message = "task_definition_revision is a revision number (1, 2, ...) or null."
  }
}

variable "image_name" {
  description = "The sensor's image, in a registry the task can pull from (e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:0.1.0; `./build.sh image` builds it)."
  type        = string

  validation {
    condition     = can(regex("^[^[:space:]]{1,255}$", var.image_name))
    error_message = "image_name must be an image reference (no spaces, at most 255 characters)."
  }
}

variable "satellite_url" {
  description = "Where the sensor sends traces: http(s)://hostname|IP:port, e.g. http://levoai-satellite:9999."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/:[:space:]]+(:[0-9]{1,5})?(/[^[:space:]]*)?$", var.satellite_url))
    error_message = "satellite_url must look like http(s)://host[:port], e.g. http://levoai-satellite:9999."
  }
}

variable "levo_env" {
  description = "Application environment (staging, production, ...)."
  type        = string

  validation {
    condition     = trimspace(var.levo_env) != ""
    error_message = "levo_env cannot be empty."
  }
}

variable "org_id" {
  description = "Levo organisation id (--levoai-org-id)."
  type        = string

  validation {
    condition     = trimspace(var.org_id) != ""
    error_message = "org_id cannot be empty."
  }
}

variable "aws_log_group" {
  description = "CloudWatch log group of the sensor, created when absent (the execution role needs logs:CreateLogGroup). Null: /ecs/<task_definition_name>-pcap."
  type        = string
  default     = null

  validation {
    condition     = var.aws_log_group == null || can(regex("^[A-Za-z0-9._/#-]{1,512}$", var.aws_log_group))
    error_message = "aws_log_group must be a CloudWatch log group name: 1-512 of A-Z a-z 0-9 . _ - / #."
  }
}

variable "rate_limit" {
  description = "Traces per minute sent to the satellite (0 = no limit)."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.rate_limit >= 0
    error_message = "rate_limit is a number of traces per minute, 0 or more."
  }
}

variable "trace_export_interval" {
  description = "Seconds between batches sent to the satellite."
  type        = number
  default     = 1.0
  nullable    = false

  validation {
    condition     = var.trace_export_interval > 0
    error_message = "trace_export_interval is a number of seconds greater than 0."
  }
}

variable "stream_timeout_seconds" {
  description = "Idle seconds before the sensor closes a connection it tracks."
  type        = number
  default     = 1.0
  nullable    = false

  validation {
    condition     = var.stream_timeout_seconds > 0
    error_message = "stream_timeout_seconds is a number of seconds greater than 0."
  }
}

variable "cpu_percentage_limit" {
  description = "Share of the task's CPU units given to the sensor, in percent, rounded down; at least 128 units; without a task-level cpu, the profile's value (256, or 128 with low_resource)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.cpu_percentage_limit > 0 && var.cpu_percentage_limit <= 100
    error_message = "cpu_percentage_limit is a percentage: greater than 0, at most 100."
  }
}

variable "memory_percentage_limit" {
  description = "Share of the task's memory given to the sensor (its hard limit), in percent, rounded down; at least 128 MiB (64 MiB with low_resource); without a task-level memory, those values."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.memory_percentage_limit > 0 && var.memory_percentage_limit <= 100
    error_message = "memory_percentage_limit is a percentage: greater than 0, at most 100."
  }
}

variable "low_resource" {
  description = "The strict-budget profile: apidump limits that keep the sensor within 64 MiB (see deploy/ecs/README.md)."
  type        = bool
  default     = false
  nullable    = false
}

variable "spool" {
  description = "Keep batches the satellite cannot take on disk (--spool-dir): adds the task volume pcap-sensor-spool (no host: task-scoped storage, on Fargate the task's ephemeral storage) mounted at /var/spool/pcap-sensor in the sensor; the root file system stays read-only."
  type        = bool
  default     = false
  nullable    = false
}

variable "spool_mb" {
  description = "The spool's size in MiB (--spool-mb) with spool. Null: apidump's default, 256. It must fit in the task's ephemeral storage (20 GiB on Fargate unless set)."
  type        = number
  default     = null

  validation {
    condition     = var.spool_mb == null || try(var.spool_mb >= 1 && floor(var.spool_mb) == var.spool_mb, false)
    error_message = "spool_mb is a whole number of MiB, 1 or more."
  }
}

variable "extra_args" {
  description = "More apidump flags for the entry point, e.g. [\"--filter\", \"not port 8888\"] to ignore another sidecar's port."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "copy_tags" {
  description = "Copy the current revision's tags to the new one. The data source does not return tags, so they are read through the Resource Groups Tagging API (needs tag:GetResources); set false without that permission."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags added to the new revision (over the copied ones)."
  type        = map(string)
  default     = {}
  nullable    = false
}
