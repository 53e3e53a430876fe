# Adds the pcap sensor as a sidecar to an existing ECS task definition: reads
# the task's current revision through the AWS provider and registers a new
# revision with every setting kept and the sensor appended to its containers.

# The revision to start from (the latest ACTIVE one unless pinned).
data "aws_ecs_task_definition" "current" {
  task_definition = (
    var.task_definition_revision == null
    ? var.task_definition_name
    : "${var.task_definition_name}:${var.task_definition_revision}"
  )
}

# The data source does not return tags; the Tagging API does.
data "aws_resourcegroupstaggingapi_resources" "current" {
  count             = var.copy_tags ? 1 : 0
  resource_arn_list = [data.aws_ecs_task_definition.current.arn]
}

# Everything provider-free (the sidecar, its CPU/memory share, the merged
# container list, the already-present check) lives in the submodule, which is
# tested offline with `terraform test`.
module "sidecar" {
  source = "./modules/sidecar"

  existing_container_definitions = data.aws_ecs_task_definition.current.container_definitions
  task_cpu                       = data.aws_ecs_task_definition.current.cpu
  task_memory                    = data.aws_ecs_task_definition.current.memory
  cpu_percentage_limit           = var.cpu_percentage_limit
  memory_percentage_limit        = var.memory_percentage_limit
  low_resource                   = var.low_resource
  image_name                     = var.image_name
  satellite_url                  = var.satellite_url
  levo_env                       = var.levo_env
  org_id                         = var.org_id
  rate_limit                     = var.rate_limit
  trace_export_interval          = var.trace_export_interval
  stream_timeout_seconds         = var.stream_timeout_seconds
  aws_region                     = var.aws_region
  aws_log_group                  = coalesce(var.aws_log_group, "/ecs/${var.task_definition_name}-pcap")
  spool                          = var.spool
  spool_mb                       = var.spool_mb
  extra_args                     = var.extra_args
}

locals {
  current = data.aws_ecs_task_definition.current

  # Tags under the reserved aws: prefix cannot be set by anyone but AWS.
  copied_tags = var.copy_tags ? {
    for k, v in try(data.aws_resourcegroupstaggingapi_resources.current[0].resource_tag_mapping_list[0].tags, {}) :
    k => v if !startswith(k, "aws:")
  } : {}
}

resource "aws_ecs_task_definition" "with_sensor" {
  # EFS volumes are copied with the task's own transit_encryption setting: the
  # point is to keep every setting, and enabling encryption here would change
  # the application's storage behind its owner's back.
  #checkov:skip=CKV_AWS_97:EFS volume settings are copied unchanged from the existing task
  family                = local.current.family
  container_definitions = module.sidecar.container_definitions

  # The data source reports unset strings as "": send them as unset.
  cpu                      = local.current.cpu == "" ? null : local.current.cpu
  memory                   = local.current.memory == "" ? null : local.current.memory
  task_role_arn            = local.current.task_role_arn == "" ? null : local.current.task_role_arn
  execution_role_arn       = local.current.execution_role_arn == "" ? null : local.current.execution_role_arn
  network_mode             = local.current.network_mode == "" ? null : local.current.network_mode
  ipc_mode                 = local.current.ipc_mode == "" ? null : local.current.ipc_mode
  pid_mode                 = local.current.pid_mode == "" ? null : local.current.pid_mode
  requires_compatibilities = length(local.current.requires_compatibilities) == 0 ? null : local.current.requires_compatibilities
  enable_fault_injection   = local.current.enable_fault_injection
  tags                     = merge(local.copied_tags, var.tags)

  dynamic "runtime_platform" {
    for_each = [for p in local.current.runtime_platform : p if p.operating_system_family != "" || p.cpu_architecture != ""]
    content {
      operating_system_family = runtime_platform.value.operating_system_family == "" ? null : runtime_platform.value.operating_system_family
      cpu_architecture        = runtime_platform.value.cpu_architecture == "" ? null : runtime_platform.value.cpu_architecture
    }
  }

  dynamic "ephemeral_storage" {
    for_each = [for e in local.current.ephemeral_storage : e if e.size_in_gib > 0]
    content {
      size_in_gib = ephemeral_storage.value.size_in_gib
    }
  }

  dynamic "placement_constraints" {
    for_each = local.current.placement_constraints
    content {
      type       = placement_constraints.value.type
      expression = placement_constraints.value.expression == "" ? null : placement_constraints.value.expression
    }
  }

  dynamic "proxy_configuration" {
    for_each = local.current.proxy_configuration
    content {
      type           = proxy_configuration.value.type == "" ? null : proxy_configuration.value.type
      container_name = proxy_configuration.value.container_name
      properties     = proxy_configuration.value.properties
    }
  }

  # Volumes of every kind: bind mounts (host_path or none), Docker volumes,
  # EFS (with access points and IAM) and FSx for Windows File Server.
  dynamic "volume" {
    for_each = local.current.volume
    content {
      name                = volume.value.name
      host_path           = volume.value.host_path == "" ? null : volume.value.host_path
      configure_at_launch = volume.value.configure_at_launch

      dynamic "docker_volume_configuration" {
        for_each = volume.value.docker_volume_configuration
        content {
          scope         = docker_volume_configuration.value.scope == "" ? null : docker_volume_configuration.value.scope
          autoprovision = docker_volume_configuration.value.autoprovision
          driver        = docker_volume_configuration.value.driver == "" ? null : docker_volume_configuration.value.driver
          driver_opts   = length(docker_volume_configuration.value.driver_opts) == 0 ? null : docker_volume_configuration.value.driver_opts
          labels        = length(docker_volume_configuration.value.labels) == 0 ? null : docker_volume_configuration.value.labels
        }
      }

      dynamic "efs_volume_configuration" {
        for_each = volume.value.efs_volume_configuration
        content {
          file_system_id          = efs_volume_configuration.value.file_system_id
          root_directory          = efs_volume_configuration.value.root_directory == "" ? null : efs_volume_configuration.value.root_directory
          transit_encryption      = efs_volume_configuration.value.transit_encryption == "" ? null : efs_volume_configuration.value.transit_encryption
          transit_encryption_port = efs_volume_configuration.value.transit_encryption_port == 0 ? null : efs_volume_configuration.value.transit_encryption_port

          dynamic "authorization_config" {
            for_each = efs_volume_configuration.value.authorization_config
            content {
              access_point_id = authorization_config.value.access_point_id == "" ? null : authorization_config.value.access_point_id
              iam             = authorization_config.value.iam == "" ? null : authorization_config.value.iam
            }
          }
        }
      }

      dynamic "fsx_windows_file_server_volume_configuration" {
        for_each = volume.value.fsx_windows_file_server_volume_configuration
        content {
          file_system_id = fsx_windows_file_server_volume_configuration.value.file_system_id
          root_directory = fsx_windows_file_server_volume_configuration.value.root_directory

          dynamic "authorization_config" {
            for_each = fsx_windows_file_server_volume_configuration.value.authorization_config
            content {
              credentials_parameter = authorization_config.value.credentials_parameter
              domain                = authorization_config.value.domain
            }
          }
        }
      }
    }
  }

  # The sidecar's own volumes (the spool's, with spool): a name and no host,
  # so task-scoped storage (on Fargate, the task's ephemeral storage).
  dynamic "volume" {
    for_each = module.sidecar.volumes
    content {
      name = volume.value.name
    }
  }

  lifecycle {
    # Register the new revision before deregistering a replaced one.
    create_before_destroy = true

    precondition {
      condition     = !anytrue([for v in local.current.volume : contains([for s in module.sidecar.volumes : s.name], v.name)])
      error_message = "The task already has a volume named pcap-sensor-spool: rename it, or set spool = false."
    }

    precondition {
      condition     = local.current.network_mode != "bridge"
      error_message = "The task uses the bridge network mode: each container has its own network namespace there, so a sidecar cannot see the application's traffic. Use awsvpc (or host) for this task."
    }
  }
}
