# When the task definition is already managed by Terraform, add the sensor in
# that configuration instead of running the root module against it: the
# sidecar submodule appends it to the container list you already have.

provider "aws" {
  region = var.aws_region
}

variable "aws_region" {
  description = "AWS region."
  type        = string
  default     = "us-west-2"
}

variable "execution_role_arn" {
  description = "Task execution role (pulls images, writes logs)."
  type        = string
}

variable "task_role_arn" {
  description = "Role of the application's own AWS calls."
  type        = string
}

locals {
  app_containers = [
    {
      name                   = "app"
      image                  = "public.ecr.aws/nginx/nginx:1.27"
      essential              = true
      readonlyRootFilesystem = true
      portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    },
  ]
}

module "pcap_sensor" {
  source = "../../modules/sidecar"

  existing_container_definitions = jsonencode(local.app_containers)
  task_cpu                       = "1024"
  task_memory                    = "2048"
  image_name                     = "123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:0.1.0"
  satellite_url                  = "http://levoai-satellite:9999"
  levo_env                       = "staging"
  org_id                         = "my-org-id"
  rate_limit                     = 1000
  aws_region                     = var.aws_region
  aws_log_group                  = "/ecs/my-app-pcap"
  # Batches the satellite cannot take wait on the task's storage.
  spool = true
}

resource "aws_ecs_task_definition" "app" {
  family                   = "my-app"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "1024"
  memory                   = "2048"
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = module.pcap_sensor.container_definitions

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # The sensor's volumes (its spool's: no host, the task's ephemeral storage).
  dynamic "volume" {
    for_each = module.pcap_sensor.volumes
    content {
      name = volume.value.name
    }
  }
}

output "task_definition_arn" {
  description = "The task definition with the sensor."
  value       = aws_ecs_task_definition.app.arn
}
