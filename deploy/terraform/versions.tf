terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: the aws_ecs_task_definition data source exposes container_definitions,
      # volumes, runtime_platform and the other task settings this module copies.
      version = "~> 6.0"
    }
  }
}
