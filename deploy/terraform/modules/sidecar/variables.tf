# Inputs of the sidecar builder. A value left null becomes the same
# "< INSERT ... >" placeholder that `pcap-sensor ecs container-definition` prints.

variable "existing_container_definitions" {
  description = "The task's containerDefinitions as a JSON array (the aws_ecs_task_definition data source's container_definitions). Kept byte for byte; the sidecar is appended."
  type        = string

  validation {
    condition = (
      startswith(trimspace(var.existing_container_definitions), "[")
      && can([for c in jsondecode(var.existing_container_definitions) : tostring(c.name)])
    )
    error_message = "existing_container_definitions must be a JSON array of container definitions, each with a name, e.g. [{\"name\": \"app\", \"image\": \"app:1\"}]."
  }
}

variable "task_cpu" {
  description = "The task's cpu in CPU units (1 vCPU = 1024), as the data source gives it (a string). Null or empty when the task has no task-level size (EC2): the profile's default is used."
  type        = string
  default     = null

  validation {
    condition     = var.task_cpu == null || var.task_cpu == "" || can(regex("^[0-9]+$", var.task_cpu))
    error_message = "task_cpu must be a whole number of CPU units such as \"1024\" (or null)."
  }
}

variable "task_memory" {
  description = "The task's memory in MiB, as the data source gives it (a string). Null or empty when the task has no task-level size: the profile's default is used."
  type        = string
  default     = null

  validation {
    condition     = var.task_memory == null || var.task_memory == "" || can(regex("^[0-9]+$", var.task_memory))
    error_message = "task_memory must be a whole number of MiB such as \"2048\" (or null)."
  }
}

variable "cpu_percentage_limit" {
  description = "Share of the task's CPU units given to the sensor, in percent (rounded down; at least 128 units)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.cpu_percentage_limit > 0 && var.cpu_percentage_limit <= 100
    error_message = "cpu_percentage_limit is a percentage: greater than 0, at most 100."
  }
}

variable "memory_percentage_limit" {
  description = "Share of the task's memory given to the sensor, in percent (rounded down; at least 128 MiB, or 64 MiB with low_resource)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.memory_percentage_limit > 0 && var.memory_percentage_limit <= 100
    error_message = "memory_percentage_limit is a percentage: greater than 0, at most 100."
  }
}

variable "low_resource" {
  description = "The strict-budget profile: apidump limits that keep the sensor within 64 MiB (smaller buffer pool, flow table, capture buffer and export queue), rate limit 100 and short timeouts when those are null."
  type        = bool
  default     = false
  nullable    = false
}

variable "image_name" {
  description = "The sensor's image (a registry the task can pull from, e.g. ECR)."
  type        = string
  default     = null

  validation {
    condition     = var.image_name == null || can(regex("^[^[:space:]]{1,255}$", var.image_name))
    error_message = "image_name must be an image reference (no spaces, at most 255 characters)."
  }
}

variable "satellite_url" {
  description = "Where the sensor sends traces: http(s)://host[:port]."
  type        = string
  default     = null

  validation {
    condition     = var.satellite_url == null || can(regex("^https?://[^/:[:space:]]+(:[0-9]{1,5})?(/[^[:space:]]*)?$", var.satellite_url))
    error_message = "satellite_url must look like http(s)://host[:port], e.g. http://levoai-satellite:9999."
  }
}

variable "levo_env" {
  description = "Application environment (staging, production, ...)."
  type        = string
  default     = null

  validation {
    condition     = var.levo_env == null || trimspace(coalesce(var.levo_env, " ")) != ""
    error_message = "levo_env cannot be empty."
  }
}

variable "org_id" {
  description = "Levo organisation id (--levoai-org-id)."
  type        = string
  default     = null

  validation {
    condition     = var.org_id == null || trimspace(coalesce(var.org_id, " ")) != ""
    error_message = "org_id cannot be empty."
  }
}

variable "rate_limit" {
  description = "Traces per minute (0 = no limit). Null: a placeholder, or 100 with low_resource."
  type        = number
  default     = 50

  validation {
    condition     = var.rate_limit == null || try(var.rate_limit >= 0, false)
    error_message = "rate_limit is a number of traces per minute, 0 or more."
  }
}

variable "trace_export_interval" {
  description = "Seconds between batches sent to the satellite. Null: left out (apidump's default, 10 s), or 1 with low_resource."
  type        = number
  default     = 1.0

  validation {
    condition     = var.trace_export_interval == null || try(var.trace_export_interval > 0, false)
    error_message = "trace_export_interval is a number of seconds greater than 0."
  }
}

variable "stream_timeout_seconds" {
  description = "Idle seconds before a connection is closed. Null: left out (apidump's default, 10 s), or 2 with low_resource."
  type        = number
  default     = 1.0

  validation {
    condition     = var.stream_timeout_seconds == null || try(var.stream_timeout_seconds > 0, false)
    error_message = "stream_timeout_seconds is a number of seconds greater than 0."
  }
}

variable "aws_region" {
  description = "AWS region: LEVO_AWS_REGION and the log configuration's awslogs-region."
  type        = string
  default     = null

  validation {
    condition     = var.aws_region == null || can(regex("^[a-z0-9]+(-[a-z0-9]+)+-[0-9]+$", var.aws_region))
    error_message = "aws_region must be a region name such as us-west-2."
  }
}

variable "aws_log_group" {
  description = "CloudWatch log group of the sensor (created when absent)."
  type        = string
  default     = null

  validation {
    condition     = var.aws_log_group == null || can(regex("^[A-Za-z0-9._/#-]{1,512}$", var.aws_log_group))
    error_message = "aws_log_group must be a CloudWatch log group name: 1-512 of A-Z a-z 0-9 . _ - / #."
  }
}

variable "spool" {
  description = "Keep batches the satellite cannot take on disk: the sidecar mounts the task volume pcap-sensor-spool (output volumes: add it to the task definition) at /var/spool/pcap-sensor and gets --spool-dir."
  type        = bool
  default     = false
  nullable    = false
}

variable "spool_mb" {
  description = "The spool's size in MiB (--spool-mb) with spool. Null: apidump's default, 256."
  type        = number
  default     = null

  validation {
    condition     = var.spool_mb == null || try(var.spool_mb >= 1 && floor(var.spool_mb) == var.spool_mb, false)
    error_message = "spool_mb is a whole number of MiB, 1 or more."
  }
}

variable "extra_args" {
  description = "More apidump flags appended to the entry point, e.g. [\"--filter\", \"not port 8888\"]."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for a in var.extra_args : !contains([
        "--satellite-url", "--levo-env", "--levoai-org-id", "--rate-limit",
        "--trace-export-interval", "--stream-timeout-seconds", "-r", "--read-file",
        "--spool-dir", "--spool-mb",
      ], split("=", a)[0])
    ])
    error_message = "extra_args cannot repeat a flag that has its own variable (--satellite-url, --levo-env, --levoai-org-id, --rate-limit, --trace-export-interval, --stream-timeout-seconds; --spool-dir and --spool-mb: spool, spool_mb) nor read a file (-r)."
  }
}
