output "task_definition_arn" {
  description = "ARN of the new revision, with the sensor (point services at it)."
  value       = aws_ecs_task_definition.with_sensor.arn
}

output "task_definition_revision" {
  description = "Revision number of the new task definition."
  value       = aws_ecs_task_definition.with_sensor.revision
}

output "base_task_definition_arn" {
  description = "ARN of the revision the new one was made from (without the sensor)."
  value       = data.aws_ecs_task_definition.current.arn
}

output "sidecar_container_definition" {
  description = "The sensor's container definition (JSON), the same as `pcap-sensor ecs container-definition` prints for these values."
  value       = module.sidecar.sidecar_json
}

output "sidecar_cpu" {
  description = "CPU units given to the sensor."
  value       = module.sidecar.cpu
}

output "sidecar_memory" {
  description = "Memory (MiB, hard limit) given to the sensor."
  value       = module.sidecar.memory
}
