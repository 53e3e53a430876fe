output "sidecar" {
  description = "The sensor's container definition (an object)."
  value       = local.sidecar
}

output "sidecar_json" {
  description = "The sensor's container definition as JSON (keys sorted, as jsonencode writes them)."
  value       = local.sidecar_json
}

output "cpu" {
  description = "CPU units given to the sensor."
  value       = local.cpu
}

output "memory" {
  description = "Hard memory limit of the sensor, in MiB."
  value       = local.memory
}

output "volumes" {
  description = "Volumes the task definition needs for the sidecar: the spool's (a name, no host: task-scoped storage) with spool, else none."
  value       = var.spool ? [{ name = local.spool_volume }] : []
}

output "already_present" {
  description = "True when the existing containers already include levo-pcap-sensor."
  value       = local.already_present
}

output "container_definitions" {
  description = "The existing containerDefinitions with the sensor appended (JSON), for a new task definition revision."
  value       = local.container_definitions

  precondition {
    condition     = !local.already_present
    error_message = "The task already has a container named levo-pcap-sensor: the sensor is installed. To change its settings, start from the revision without it (root module: set task_definition_revision to that revision), or remove the container first."
  }
}
