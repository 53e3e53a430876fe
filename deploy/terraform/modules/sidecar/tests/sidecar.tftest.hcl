# terraform test for the provider-free sidecar builder. Every run block plans
# the module with its own inputs; nothing touches AWS.

variables {
  # An existing task as the data source returns it: two containers, odd
  # spacing, key order and number forms, escapes and non-ASCII text, all of
  # which must survive byte for byte.
  existing_container_definitions = <<-JSON
    [ {"name":"app","image":"example/app:1.2","essential":true,"cpu":0,"memory":512,
       "portMappings":[{"containerPort":8080,"hostPort":8080,"protocol":"tcp"}],
       "environment":[{"name":"GREETING","value":"h\u00e9llo \"quoted\" <b>&amp;</b>"}],
       "secrets":[{"name":"DB_PASSWORD","valueFrom":"arn:aws:ssm:us-west-2:123456789012:parameter/db"}],
       "mountPoints":[{"sourceVolume":"efs-data","containerPath":"/data","readOnly":false}],
       "dependsOn":[{"containerName":"init","condition":"SUCCESS"}],
       "healthCheck":{"command":["CMD-SHELL","curl -f http://localhost:8080/ || exit 1"],"interval":30,"timeout":5,"retries":3,"startPeriod":0.0}},
      {"essential":false,"name":"init","image":"busybox","command":["sh","-c","echo ready"],"memoryReservation":16,"ulimits":[{"name":"nofile","softLimit":1024,"hardLimit":4096}]}
    ]
  JSON
  task_cpu                       = "1024"
  task_memory                    = "2048"
  image_name                     = "123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:0.1.0"
  satellite_url                  = "http://levoai-satellite:9999"
  levo_env                       = "staging"
  org_id                         = "org-123"
  aws_region                     = "us-west-2"
  aws_log_group                  = "/ecs/app-pcap"
}

run "percentages_of_the_task" {
  command = plan

  variables {
    task_cpu                = "4096"
    task_memory             = "16384"
    cpu_percentage_limit    = 10
    memory_percentage_limit = 2.5
  }

  assert {
    condition     = output.cpu == 409 && output.memory == 409
    error_message = "10% of 4096 units and 2.5% of 16384 MiB, rounded down, are 409 and 409 (got ${output.cpu} / ${output.memory})."
  }
  assert {
    condition     = output.sidecar.cpu == output.cpu && output.sidecar.memory == output.memory
    error_message = "The container definition carries the computed share."
  }
}

run "minimums" {
  command = plan

  variables {
    task_cpu    = "256"
    task_memory = "512"
  }

  assert {
    condition     = output.cpu == 128 && output.memory == 128
    error_message = "5% of a 256-unit / 512-MiB task is below the minimums: 128 units and 128 MiB expected (got ${output.cpu} / ${output.memory})."
  }
}

run "low_resource_minimums_and_flags" {
  command = plan

  variables {
    task_cpu     = "512"
    task_memory  = "1024"
    low_resource = true
  }

  assert {
    condition     = output.cpu == 128 && output.memory == 64
    error_message = "low_resource: minimums 128 units and 64 MiB expected (got ${output.cpu} / ${output.memory})."
  }
  assert {
    condition = join(" ", output.sidecar.entryPoint) == join(" ", [
      "./bin/init apidump --satellite-url http://levoai-satellite:9999 --levo-env staging",
      "--levoai-org-id org-123 --rate-limit 50 --keep-running --trace-export-interval 1 --stream-timeout-seconds 1",
      "--max-http-length 65536 --buffer-pool-mb 4 --max-flows 1024 --pcap-buffer-mb 8",
      "--export-queue-mb 2 --max-batch-kb 256",
    ])
    error_message = "Unexpected low-resource entry point: ${join(" ", output.sidecar.entryPoint)}"
  }
}

run "spool_volume_mount_and_flags" {
  command = plan

  variables {
    spool    = true
    spool_mb = 512
  }

  assert {
    condition     = jsonencode(output.volumes) == jsonencode([{ name = "pcap-sensor-spool" }])
    error_message = "spool: the task needs the volume pcap-sensor-spool (got ${jsonencode(output.volumes)})."
  }
  assert {
    condition     = jsonencode(output.sidecar.mountPoints) == jsonencode([{ containerPath = "/var/spool/pcap-sensor", readOnly = false, sourceVolume = "pcap-sensor-spool" }])
    error_message = "spool: the sidecar mounts it at /var/spool/pcap-sensor (got ${jsonencode(output.sidecar.mountPoints)})."
  }
  assert {
    condition     = endswith(join(" ", output.sidecar.entryPoint), "--spool-dir /var/spool/pcap-sensor --spool-mb 512")
    error_message = "spool: --spool-dir and --spool-mb end the entry point (got ${join(" ", output.sidecar.entryPoint)})."
  }
  assert {
    condition     = output.sidecar.readonlyRootFilesystem
    error_message = "The root file system stays read-only."
  }
}

run "no_spool_no_volume" {
  command = plan

  assert {
    condition     = length(output.volumes) == 0 && length(output.sidecar.mountPoints) == 0
    error_message = "Without spool: no volume, no mount point."
  }
  assert {
    condition     = !strcontains(join(" ", output.sidecar.entryPoint), "--spool")
    error_message = "Without spool: no --spool-dir."
  }
}

run "no_task_level_size" {
  command = plan

  variables {
    task_cpu    = ""
    task_memory = null
  }

  assert {
    condition     = output.cpu == 256 && output.memory == 128
    error_message = "Without a task-level size the standard profile's 256 units / 128 MiB apply (got ${output.cpu} / ${output.memory})."
  }
}

run "merge_keeps_every_container_byte_for_byte" {
  command = plan

  assert {
    condition = startswith(
      output.container_definitions,
      trimsuffix(trimspace(var.existing_container_definitions), "]"),
    )
    error_message = "The existing text (up to its closing bracket) must be kept exactly."
  }
  assert {
    condition     = length(jsondecode(output.container_definitions)) == 3
    error_message = "Two existing containers plus the sensor expected."
  }
  assert {
    condition = alltrue([
      for i, c in jsondecode(var.existing_container_definitions) :
      jsonencode(jsondecode(output.container_definitions)[i]) == jsonencode(c)
    ])
    error_message = "Every existing container must come back unchanged, in order."
  }
  assert {
    condition     = jsonencode(jsondecode(output.container_definitions)[2]) == output.sidecar_json
    error_message = "The sensor is appended last."
  }
  assert {
    condition     = endswith(output.container_definitions, ",${output.sidecar_json}]")
    error_message = "The sensor's JSON is appended as written by jsonencode."
  }
}

run "empty_container_list" {
  command = plan

  variables {
    existing_container_definitions = "[]"
  }

  assert {
    condition     = output.container_definitions == "[${output.sidecar_json}]"
    error_message = "An empty list becomes a list of the sensor alone."
  }
}

run "already_present_is_refused" {
  command = plan

  variables {
    existing_container_definitions = "[{\"name\":\"app\",\"image\":\"app:1\"},{\"name\":\"levo-pcap-sensor\",\"image\":\"old\"}]"
  }

  expect_failures = [output.container_definitions]
}

run "placeholders_when_values_are_missing" {
  command = plan

  variables {
    image_name             = null
    satellite_url          = null
    levo_env               = null
    org_id                 = null
    rate_limit             = null
    aws_region             = null
    aws_log_group          = null
    trace_export_interval  = null
    stream_timeout_seconds = null
  }

  assert {
    condition = output.sidecar.entryPoint == [
      "./bin/init", "apidump",
      "--satellite-url", "< INSERT SATELLITE URL (http(s)://hostname|IP:port) >",
      "--levo-env", "<INSERT APPLICATION ENVIRONMENT (staging, production etc.)>",
      "--levoai-org-id", "< INSERT LEVO ORG ID >",
      "--rate-limit", "<INSERT NUMBER OF TRACES PER MINUTE>",
      "--keep-running",
    ]
    error_message = "Missing values become the reference's placeholders: ${jsonencode(output.sidecar.entryPoint)}"
  }
  assert {
    condition = (
      output.sidecar.environment[0].value == "< INSERT AWS REGION (us-west-2) >"
      && output.sidecar.logConfiguration.options["awslogs-region"] == "< INSERT AWS REGION (us-west-2) >"
      && output.sidecar.logConfiguration.options["awslogs-group"] == "< INSERT LOGS IDENTIFIER (/ecs/your-application-pcap) >"
    )
    error_message = "Region and log group placeholders expected."
  }
}

run "sidecar_shape" {
  command = plan

  variables {
    extra_args = ["--filter", "not port 8888"]
  }

  assert {
    condition = (
      output.sidecar.name == "levo-pcap-sensor"
      && output.sidecar.essential == false
      && output.sidecar.readonlyRootFilesystem == true
      && length(output.sidecar.portMappings) == 0
      && output.sidecar.logConfiguration.logDriver == "awslogs"
      && output.sidecar.logConfiguration.options["awslogs-stream-prefix"] == "ecs-pcap"
      && output.sidecar.logConfiguration.options["awslogs-create-group"] == "true"
    )
    error_message = "Unexpected sidecar: ${output.sidecar_json}"
  }
  assert {
    condition     = slice(output.sidecar.entryPoint, length(output.sidecar.entryPoint) - 2, length(output.sidecar.entryPoint)) == ["--filter", "not port 8888"]
    error_message = "extra_args go last in the entry point."
  }
}

run "health_check" {
  command = plan

  assert {
    condition = (
      output.sidecar.healthCheck.command == ["CMD", "./bin/init", "health"]
      && output.sidecar.healthCheck.interval == 30
      && output.sidecar.healthCheck.timeout == 10
      && output.sidecar.healthCheck.retries == 3
      && output.sidecar.healthCheck.startPeriod == 15
    )
    error_message = "The health check runs ./bin/init health every 30 s (timeout 10 s, 3 retries, 15 s start period): ${jsonencode(output.sidecar.healthCheck)}"
  }
  assert {
    condition     = contains(output.sidecar.entryPoint, "--keep-running")
    error_message = "The sensor stays up after a capture failure, so the health check can say why: ${jsonencode(output.sidecar.entryPoint)}"
  }
  assert {
    condition     = jsondecode(output.container_definitions)[2].healthCheck.command[2] == "health"
    error_message = "The appended sidecar carries the health check."
  }
}

run "bad_percentage_is_refused" {
  command = plan

  variables {
    cpu_percentage_limit    = 0
    memory_percentage_limit = 150
  }

  expect_failures = [var.cpu_percentage_limit, var.memory_percentage_limit]
}

run "bad_values_are_refused" {
  command = plan

  variables {
    satellite_url                  = "levoai-satellite:9999"
    aws_region                     = "Oregon"
    aws_log_group                  = "has spaces"
    extra_args                     = ["--rate-limit", "10"]
    existing_container_definitions = "{\"name\":\"app\"}"
    spool_mb                       = 0.5
  }

  expect_failures = [
    var.satellite_url,
    var.aws_region,
    var.aws_log_group,
    var.extra_args,
    var.existing_container_definitions,
    var.spool_mb,
  ]
}

run "spool_flags_in_extra_args_are_refused" {
  command = plan

  variables {
    extra_args = ["--spool-dir=/tmp/x"]
  }

  expect_failures = [var.extra_args]
}
