# The sensor's container definition and the task's container list with it
# appended. It mirrors `pcap-sensor ecs container-definition` (src/ecs/container_def.rs):
# tests/deploy.rs checks that both give the same JSON for the same inputs.

locals {
  sidecar_name = "levo-pcap-sensor"

  # The reference product's placeholders, word for word.
  placeholder = {
    image         = "< INSERT IMAGE URI (123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:VERSION) >"
    satellite_url = "< INSERT SATELLITE URL (http(s)://hostname|IP:port) >"
    levo_env      = "<INSERT APPLICATION ENVIRONMENT (staging, production etc.)>"
    org_id        = "< INSERT LEVO ORG ID >"
    rate_limit    = "<INSERT NUMBER OF TRACES PER MINUTE>"
    region        = "< INSERT AWS REGION (us-west-2) >"
    log_group     = "< INSERT LOGS IDENTIFIER (/ecs/your-application-pcap) >"
  }

  # Profiles: CPU units and MiB when the task has no task-level size, which are
  # also the minimums of the percentage shares (memory: the measured peak RSS
  # with 4x or more headroom; see deploy/ecs/README.md).
  profile = var.low_resource ? {
    cpu           = 128
    memory        = 64
    min_cpu       = 128
    min_memory    = 64
    rate_limit    = "100"
    export_every  = "1"
    close_idle    = "2"
    apidump_flags = ["--max-http-length", "65536", "--buffer-pool-mb", "4", "--max-flows", "1024", "--pcap-buffer-mb", "8", "--export-queue-mb", "2", "--max-batch-kb", "256"]
    } : {
    cpu           = 256
    memory        = 128
    min_cpu       = 128
    min_memory    = 128
    rate_limit    = local.placeholder.rate_limit
    export_every  = null
    close_idle    = null
    apidump_flags = []
  }

  task_cpu    = try(tonumber(var.task_cpu), null)
  task_memory = try(tonumber(var.task_memory), null)

  cpu    = local.task_cpu == null ? local.profile.cpu : max(local.profile.min_cpu, floor(local.task_cpu * var.cpu_percentage_limit / 100))
  memory = local.task_memory == null ? local.profile.memory : max(local.profile.min_memory, floor(local.task_memory * var.memory_percentage_limit / 100))

  region        = var.aws_region != null ? var.aws_region : local.placeholder.region
  export_every  = var.trace_export_interval != null ? tostring(var.trace_export_interval) : local.profile.export_every
  close_idle    = var.stream_timeout_seconds != null ? tostring(var.stream_timeout_seconds) : local.profile.close_idle
  rate_limit    = var.rate_limit != null ? tostring(var.rate_limit) : local.profile.rate_limit
  satellite_url = var.satellite_url != null ? var.satellite_url : local.placeholder.satellite_url
  levo_env      = var.levo_env != null ? var.levo_env : local.placeholder.levo_env
  org_id        = var.org_id != null ? var.org_id : local.placeholder.org_id

  # The spool (var.spool): a task volume with no host (task-scoped storage;
  # on Fargate the task's ephemeral storage) mounted for --spool-dir; the
  # root file system stays read-only.
  spool_volume = "pcap-sensor-spool"
  spool_path   = "/var/spool/pcap-sensor"
  spool_flags = var.spool ? concat(
    ["--spool-dir", local.spool_path],
    var.spool_mb == null ? [] : ["--spool-mb", tostring(var.spool_mb)],
  ) : []
  mount_points = var.spool ? [{ sourceVolume = local.spool_volume, containerPath = local.spool_path, readOnly = false }] : []

  entry_point = concat(
    [
      "./bin/init", "apidump",
      "--satellite-url", local.satellite_url,
      "--levo-env", local.levo_env,
      "--levoai-org-id", local.org_id,
      "--rate-limit", local.rate_limit,
      # Stay up when capture cannot start or fails, so the health check says why.
      "--keep-running",
    ],
    local.export_every == null ? [] : ["--trace-export-interval", local.export_every],
    local.close_idle == null ? [] : ["--stream-timeout-seconds", local.close_idle],
    local.profile.apidump_flags,
    local.spool_flags,
    var.extra_args,
  )

  sidecar = {
    name                   = local.sidecar_name
    image                  = var.image_name != null ? var.image_name : local.placeholder.image
    cpu                    = local.cpu
    memory                 = local.memory
    essential              = false
    portMappings           = []
    mountPoints            = local.mount_points
    volumesFrom            = []
    readonlyRootFilesystem = true
    entryPoint             = local.entry_point
    environment            = [{ name = "LEVO_AWS_REGION", value = local.region }]
    # `pcap-sensor health` asks the sensor's capture loop (no shell in the
    # image: CMD); it waits 5 s for the answer, within the 10 s timeout.
    # The same values as `pcap-sensor ecs container-definition` (HEALTH_CHECK
    # in src/ecs/container_def.rs says why).
    healthCheck = {
      command     = ["CMD", "./bin/init", "health"]
      interval    = 30
      timeout     = 10
      retries     = 3
      startPeriod = 15
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = var.aws_log_group != null ? var.aws_log_group : local.placeholder.log_group
        "awslogs-create-group"  = "true"
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = "ecs-pcap"
      }
    }
  }
  sidecar_json = jsonencode(local.sidecar)

  existing        = jsondecode(var.existing_container_definitions)
  existing_text   = trimspace(var.existing_container_definitions)
  existing_names  = [for c in local.existing : try(c.name, "")]
  already_present = contains(local.existing_names, local.sidecar_name)

  # The existing text up to its closing bracket is kept as it is (every
  # container byte for byte), then the sidecar is added as the last element.
  container_definitions = (
    length(local.existing) == 0
    ? "[${local.sidecar_json}]"
    : "${substr(local.existing_text, 0, length(local.existing_text) - 1)},${local.sidecar_json}]"
  )
}
